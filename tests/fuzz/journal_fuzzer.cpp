// Fuzzes the credit server's journal reader: segments and records from any bytes, replayed into a memory_ledger.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/service/journal_record.hpp>
#include <tollgate/service/journal_segment.hpp>
#include <tollgate/service/state_file.hpp>

#include "fuzz_support.hpp"

namespace {

namespace td = tollgate::detail;

// What state_store does with a record on start-up: decode, then apply or mark. A record that does
// not decode or fit the ledger throws std::invalid_argument; nothing else may go wrong.
void replay(tollgate::memory_ledger& ledger, td::credential_marks& marks, std::string_view bytes) {
  td::journal_record r;
  try {
    r = td::decode_journal_record(bytes);
  } catch (const std::invalid_argument&) {
    return;
  }
  // A record that decodes is the one encoding of what it says.
  std::string again;
  switch (r.what) {
    case td::journal_record::type::ledger: td::encode_journal_record(again, r.change); break;
    case td::journal_record::type::credential_marked:
      td::encode_credential_marked(again, r.credential, r.credential_id, r.is_public);
      break;
    case td::journal_record::type::credential_unmarked: td::encode_credential_unmarked(again, r.credential); break;
  }
  TOLLGATE_FUZZ_CHECK(again == bytes);
  switch (r.what) {
    case td::journal_record::type::ledger:
      try {
        ledger.apply(r.change);
      } catch (const std::invalid_argument&) {
      }
      return;
    case td::journal_record::type::credential_marked: marks[std::string(r.credential)] = {std::string(r.credential_id), r.is_public}; return;
    case td::journal_record::type::credential_unmarked: marks.erase(std::string(r.credential)); return;
  }
}

}  // namespace

// The first byte picks a mode: even, the rest is a whole segment file (number 1); odd, the rest is
// a frame body (u32-length-prefixed records) put into a well-formed segment, so that the records
// themselves are reached without the fuzzer having to learn CRC32C.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto rest = tollgate_fuzz::as_text(data + 1, size - 1);
  std::string segment;
  if (data[0] % 2 == 0) {
    segment.assign(rest);
  } else {
    segment = td::journal_header(1);
    if (!rest.empty()) td::append_journal_frame(segment, rest);
  }

  tollgate::memory_ledger_options options;
  options.now = [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1000)); };
  tollgate::memory_ledger ledger(options);
  td::credential_marks marks;
  std::size_t records = 0;
  try {
    const auto scan = td::scan_journal_segment(segment, "fuzz.journal.1", 1, [&](std::string_view record, std::uint64_t offset) {
      TOLLGATE_FUZZ_CHECK(offset >= td::journal_header_bytes && offset < segment.size());
      TOLLGATE_FUZZ_CHECK(record.data() >= segment.data() && record.data() + record.size() <= segment.data() + segment.size());
      ++records;
      replay(ledger, marks, record);
    });
    TOLLGATE_FUZZ_CHECK(scan.records == records);
    TOLLGATE_FUZZ_CHECK(scan.file_size == segment.size());
    TOLLGATE_FUZZ_CHECK(scan.good_end <= scan.file_size);
    if (!scan.torn) TOLLGATE_FUZZ_CHECK(segment.find_first_not_of('\0', scan.good_end) == std::string::npos);
  } catch (const td::journal_corrupt&) {
    return 0;
  }
  // Whatever was replayed is a state the ledger exports and takes back.
  const auto state = ledger.export_state();
  tollgate::memory_ledger again(options);
  again.import_state(state);
  return 0;
}
