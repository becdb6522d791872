// Fuzzes the durable outbox's settlement journal: recover() from any file content.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <tollgate/detail/settlement_journal.hpp>

#include "fuzz_support.hpp"

namespace {

// On tmpfs when there is one: recover() fsyncs, and the fuzzer runs it thousands of times a second.
const std::string& journal_path() {
  static const std::string path = [] {
    const std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return dir + "/tollgate-fuzz-settlement-" + std::to_string(::getpid()) + ".journal";
  }();
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = journal_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  namespace td = tollgate::detail;
  {
    td::settlement_journal journal(path);
    const auto owed = journal.recover();
    std::set<std::string> ids;
    std::string expected;
    for (const auto& s : owed) {
      TOLLGATE_FUZZ_CHECK(td::settlement_journal::valid_id(s.lock_id));
      TOLLGATE_FUZZ_CHECK(ids.insert(s.lock_id).second);  // the latest entry per lock wins
      TOLLGATE_FUZZ_CHECK(!s.real_cost.is_negative() && !s.hold.is_negative());
      expected += td::settlement_journal::line_for(s);
    }
    // Compaction rewrote the file to exactly what is owed, and reading it again changes nothing.
    TOLLGATE_FUZZ_CHECK(read_file(path) == expected);
    const auto again = journal.recover();
    TOLLGATE_FUZZ_CHECK(again.size() == owed.size());
    for (std::size_t i = 0; i < owed.size(); ++i)
      TOLLGATE_FUZZ_CHECK(again[i].lock_id == owed[i].lock_id && again[i].real_cost == owed[i].real_cost &&
                          again[i].hold == owed[i].hold);
    // Settling the first entry removes just it.
    if (!owed.empty()) {
      journal.done(owed.front().lock_id, owed.size() == 1);
      TOLLGATE_FUZZ_CHECK(journal.recover().size() == owed.size() - 1);
    }
  }
  ::unlink(path.c_str());
  return 0;
}
