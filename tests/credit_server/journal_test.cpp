// Tests of the credit server's journal without a ledger: framing, torn tails, damage, group commit, failure.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/service/group_commit_journal.hpp>
#include <tollgate/service/journal_record.hpp>
#include <tollgate/service/journal_segment.hpp>

using namespace tollgate::detail;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char pattern[] = "/tmp/tollgate_journal_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

struct scanned {
  segment_scan scan;
  std::vector<std::string> records;
};

scanned scan(const std::string& bytes, const std::string& path = "seg", std::uint64_t number = 1) {
  scanned out;
  out.scan = scan_journal_segment(bytes, path, number, [&](std::string_view r, std::uint64_t) { out.records.emplace_back(r); });
  return out;
}

std::string record(int i) { return fmt::format("record-{}", i) + std::string(static_cast<std::size_t>(i % 7), '.'); }

// A segment with `count` records, each synced on its own, so each is one frame; without the zeros
// preallocated after them. `frame_starts` gets where each frame begins.
std::string segment_with(const temp_dir& dir, int count, std::vector<std::uint64_t>* frame_starts = nullptr) {
  const std::string path = dir.file("state.journal.1");
  {
    group_commit_journal journal(segment_file::create(path, 1));
    for (int i = 0; i < count; ++i) journal.wait_durable(journal.append(record(i)));
  }
  std::string bytes = read_bytes(path);
  const auto s = scan_journal_segment(bytes, path, 1, [&](std::string_view, std::uint64_t at) {
    if (frame_starts) frame_starts->push_back(at);
  });
  CHECK(bytes.size() >= s.good_end + segment_file::preallocation / 2);  // zero-filled ahead
  CHECK(bytes.find_first_not_of('\0', s.good_end) == std::string::npos);
  bytes.resize(s.good_end);
  return bytes;
}

}  // namespace

TEST_CASE("journal: CRC32C is the Castagnoli checksum and covers two pieces as one") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  CHECK(crc32c("12345", "6789") == crc32c("123456789"));
}

TEST_CASE("journal: records written by group commits read back in order, each frame checked") {
  temp_dir dir;
  const std::string bytes = segment_with(dir, 20);
  const auto s = scan(bytes);
  REQUIRE(s.records.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(s.records[static_cast<std::size_t>(i)] == record(i));
  CHECK_FALSE(s.scan.torn);
  CHECK(s.scan.frames == 20);
  CHECK(s.scan.good_end == bytes.size());
}

TEST_CASE("journal: a last frame cut at any byte is a torn tail: exactly that record is dropped, and appending resumes after it") {
  temp_dir dir;
  std::vector<std::uint64_t> starts;
  const std::string bytes = segment_with(dir, 5, &starts);
  const std::uint64_t last = starts.back();
  for (std::uint64_t cut = last; cut < bytes.size(); ++cut) {
    CAPTURE(cut);
    const auto s = scan(bytes.substr(0, cut));
    REQUIRE(s.records.size() == 4);
    CHECK(s.records.back() == record(3));
    CHECK(s.scan.torn == (cut != last));
    CHECK(s.scan.good_end == last);

    // Reopened for appending: the torn bytes are cut off first, so the new record follows the good ones.
    const std::string path = dir.file("cut.journal.1");
    write_bytes(path, bytes.substr(0, cut));
    {
      group_commit_journal journal(segment_file::reopen(path, 1, s.scan));
      journal.wait_durable(journal.append("after the crash"));
    }
    const auto again = scan(read_bytes(path));
    REQUIRE(again.records.size() == 5);
    CHECK(again.records[3] == record(3));
    CHECK(again.records[4] == "after the crash");
    CHECK_FALSE(again.scan.torn);
  }
}

TEST_CASE("journal: zeros after the last frame are its preallocated end; garbage there is a torn tail, not damage") {
  temp_dir dir;
  const std::string bytes = segment_with(dir, 3);
  const auto zeros = scan(bytes + std::string(4096, '\0'));
  CHECK(zeros.records.size() == 3);
  CHECK_FALSE(zeros.scan.torn);
  CHECK(zeros.scan.good_end == bytes.size());
  for (const std::string& tail : {std::string(3, '\x7f'), std::string("\x05\0\0\0garbage", 12), std::string(600, '\0') + "x" + std::string(600, '\0')}) {
    const auto s = scan(bytes + tail);
    CHECK(s.records.size() == 3);
    CHECK(s.scan.torn);
    CHECK(s.scan.good_end == bytes.size());
  }
}

TEST_CASE("journal: a damaged frame followed by a good one refuses to load, naming the file and the offset") {
  temp_dir dir;
  std::vector<std::uint64_t> starts;
  const std::string bytes = segment_with(dir, 4, &starts);
  // Every byte of the second frame, flipped: never read as something else, never taken for a tail.
  for (std::uint64_t at = starts[1]; at < starts[2]; ++at) {
    CAPTURE(at);
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    try {
      (void)scan(damaged, "/var/lib/state.journal.1");
      FAIL("the damage was not detected");
    } catch (const journal_corrupt& e) {
      const std::string message = e.what();
      CHECK(message.find("/var/lib/state.journal.1") != std::string::npos);
      CHECK(message.find(fmt::format("offset {}", starts[1])) != std::string::npos);
    }
  }
}

TEST_CASE("journal: the segment header: a short one is a torn creation, a wrong one is damage") {
  temp_dir dir;
  const std::string bytes = segment_with(dir, 2);
  for (std::size_t n = 0; n < journal_header_bytes; ++n) {
    const auto s = scan(bytes.substr(0, n));
    CHECK(s.records.empty());
    CHECK(s.scan.torn_header);
  }
  CHECK_THROWS_AS(scan(bytes, "seg", 2), journal_corrupt);  // the header names another segment
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  CHECK_THROWS_AS(scan(bad_magic), journal_corrupt);
  std::string bad_crc = bytes;
  bad_crc[9] = static_cast<char>(bad_crc[9] ^ 1);
  CHECK_THROWS_AS(scan(bad_crc), journal_corrupt);
  CHECK_THROWS_AS(scan("not a journal at all"), journal_corrupt);
}

TEST_CASE("journal: a segment is born with its header; a file of zeros (a crash while preallocating) is a torn creation") {
  temp_dir dir;
  const std::string path = dir.file("ledger.json.journal.7");
  (void)segment_file::create(path, 7);
  const std::string created = read_bytes(path);
  CHECK(created.size() > journal_header_bytes);  // preallocated
  CHECK(created.substr(0, journal_header_bytes) == tollgate::detail::journal_header(7));
  // What an earlier version could leave when killed between its zero-fill and its header.
  for (std::size_t n : {std::size_t{1}, journal_header_bytes, std::size_t{1} << 20}) {
    const auto s = scan(std::string(n, '\0'), "seg", 7);
    CHECK(s.records.empty());
    CHECK(s.scan.torn_header);
  }
}

TEST_CASE("journal: records appended by many threads before one wait share a single fdatasync") {
  temp_dir dir;
  group_commit_journal journal(segment_file::create(dir.file("state.journal.1"), 1));
  constexpr int threads = 8, per_thread = 50;
  {
    std::vector<std::jthread> appenders;
    for (int t = 0; t < threads; ++t)
      appenders.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) (void)journal.append(fmt::format("t{}", t) + fmt::format("-{}", i));
      });
  }
  // Every waiter asks for everything appended: the first leader writes it all with one sync.
  {
    std::barrier start(threads);
    std::vector<std::jthread> waiters;
    for (int t = 0; t < threads; ++t)
      waiters.emplace_back([&] {
        start.arrive_and_wait();
        journal.wait_durable(threads * per_thread);
      });
  }
  CHECK(journal.syncs() == 1);
  CHECK(journal.durable() == threads * per_thread);
  CHECK(scan(read_bytes(dir.file("state.journal.1"))).records.size() == threads * per_thread);
}

TEST_CASE("journal: concurrent append-and-wait: every record is durable when its wait returns, in each thread's order") {
  temp_dir dir;
  const std::string path = dir.file("state.journal.1");
  group_commit_journal journal(segment_file::create(path, 1));
  constexpr int threads = 8, per_thread = 200;
  std::atomic<int> not_durable{0};
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const auto seq = journal.append(fmt::format("t{}", t) + fmt::format("-{}", i));
          journal.wait_durable(seq);
          if (journal.durable() < seq) ++not_durable;
        }
      });
  }
  CHECK(not_durable == 0);
  CHECK(journal.syncs() >= 1);
  CHECK(journal.syncs() <= threads * per_thread);
  MESSAGE("fdatasyncs for " << threads * per_thread << " records: " << journal.syncs());
  const auto s = scan(read_bytes(path));
  REQUIRE(s.records.size() == threads * per_thread);
  std::vector<int> next(threads, 0);
  for (const auto& r : s.records) {
    const int t = std::stoi(r.substr(1, r.find('-') - 1));
    CHECK(std::stoi(r.substr(r.find('-') + 1)) == next[static_cast<std::size_t>(t)]++);
  }
}

TEST_CASE("journal: rotation: the old segment is complete on disk before the new one gets a record") {
  temp_dir dir;
  group_commit_journal journal(segment_file::create(dir.file("s.journal.1"), 1));
  (void)journal.append("one");
  (void)journal.append("two");
  const auto cut = journal.rotate(segment_file::create(dir.file("s.journal.2"), 2));
  CHECK(cut == 2);
  CHECK(journal.current_segment() == 2);
  journal.wait_durable(journal.append("three"));
  CHECK(journal.syncs() == 2);
  CHECK(scan(read_bytes(dir.file("s.journal.1"))).records == std::vector<std::string>{"one", "two"});
  CHECK(scan(read_bytes(dir.file("s.journal.2")), "s.journal.2", 2).records == std::vector<std::string>{"three"});
}

TEST_CASE("journal: the size callback fires once per segment when it grows past the limit") {
  temp_dir dir;
  group_commit_journal journal(segment_file::create(dir.file("s.journal.1"), 1));
  int calls = 0;
  journal.on_segment_full(100, [&] { ++calls; });
  for (int i = 0; i < 20; ++i) (void)journal.append(std::string(20, 'x'));
  CHECK(calls == 1);
  (void)journal.rotate(segment_file::create(dir.file("s.journal.2"), 2));
  for (int i = 0; i < 3; ++i) (void)journal.append(std::string(20, 'x'));
  CHECK(calls == 1);
  for (int i = 0; i < 3; ++i) (void)journal.append(std::string(20, 'x'));
  CHECK(calls == 2);
}

TEST_CASE("journal: a failed fdatasync is fail-stop until a snapshot cut after it is durable") {
  temp_dir dir;
  group_commit_journal journal(segment_file::create(dir.file("s.journal.1"), 1));
  int failures_reported = 0;
  journal.on_failure([&] { ++failures_reported; });
  journal.wait_durable(journal.append("durable"));

  journal.fail_next_syncs(1);
  const auto lost = journal.append("not durable");
  CHECK_THROWS_AS(journal.wait_durable(lost), journal_failed);
  CHECK(failures_reported == 1);
  REQUIRE(journal.failure());
  CHECK(journal.failure()->find("s.journal.1") != std::string::npos);
  // Later changes are never acknowledged on top of the broken segment; earlier ones still are.
  CHECK_THROWS_AS(journal.wait_durable(journal.append("after the failure")), journal_failed);
  CHECK_NOTHROW(journal.wait_durable(1));
  const auto syncs = journal.syncs();

  // A snapshot cut before the failure does not end it.
  CHECK_FALSE(journal.snapshot_durable(1, 1));
  // The recovery: a new segment, a cut, a snapshot holding everything up to the cut.
  const auto cut = journal.rotate(segment_file::create(dir.file("s.journal.2"), 2));
  const auto during = journal.append("after the cut");  // waits for the snapshot: not acknowledged yet
  CHECK_THROWS_AS(journal.wait_durable(during), journal_failed);
  CHECK(journal.snapshot_durable(cut, 2));
  CHECK_FALSE(journal.failure());
  CHECK(journal.durable() >= lost);
  journal.wait_durable(journal.append("healthy again"));
  CHECK(journal.syncs() == syncs + 1);
  CHECK(scan(read_bytes(dir.file("s.journal.2")), "s.journal.2", 2).records ==
        std::vector<std::string>{"after the cut", "healthy again"});
}

TEST_CASE("journal: a group commit larger than a frame is split into whole-record frames") {
  temp_dir dir;
  const std::string path = dir.file("s.journal.1");
  group_commit_journal journal(segment_file::create(path, 1));
  const std::string big(journal_max_frame_bytes / 3, 'b');
  for (int i = 0; i < 5; ++i) (void)journal.append(big);
  journal.sync();
  CHECK(journal.syncs() == 1);
  const auto s = scan(read_bytes(path));
  CHECK(s.records.size() == 5);
  CHECK(s.scan.frames == 3);
}

TEST_CASE("journal: records encode ledger changes and credential marks exactly, and refuse malformed bytes") {
  using namespace std::chrono;
  const auto at = system_clock::time_point(microseconds(1'767'225'600'123'456));
  tollgate::ledger_change c{.what = tollgate::ledger_change::kind::locked, .user_id = "alice", .credential = "",
                            .lock_id = "lk_0123456789ab", .idempotency_key = "alice\nreq-1",
                            .amount = tollgate::credits::from_micros(5'250'000), .at = at, .expires_at = at + minutes(5)};
  std::string bytes;
  encode_journal_record(bytes, c);
  const auto r = decode_journal_record(bytes);
  CHECK(r.what == journal_record::type::ledger);
  CHECK(r.change.what == c.what);
  CHECK(r.change.user_id == "alice");
  CHECK(r.change.lock_id == c.lock_id);
  CHECK(r.change.idempotency_key == c.idempotency_key);
  CHECK(r.change.amount == c.amount);
  CHECK(r.change.at == c.at);
  CHECK(r.change.expires_at == c.expires_at);

  std::string mark;
  encode_credential_marked(mark, "did:nil:alice", "cred_1", true);
  const auto m = decode_journal_record(mark);
  CHECK(m.what == journal_record::type::credential_marked);
  CHECK(m.credential == "did:nil:alice");
  CHECK(m.credential_id == "cred_1");
  CHECK(m.is_public);
  std::string unmark;
  encode_credential_unmarked(unmark, "did:nil:alice");
  CHECK(decode_journal_record(unmark).what == journal_record::type::credential_unmarked);

  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_THROWS_AS((void)decode_journal_record(bytes.substr(0, n)), std::invalid_argument);
  CHECK_THROWS_AS((void)decode_journal_record(bytes + "x"), std::invalid_argument);
  CHECK_THROWS_AS((void)decode_journal_record(std::string("\x09", 1)), std::invalid_argument);
  std::string bad_flag = mark;
  bad_flag.back() = '\2';
  CHECK_THROWS_AS((void)decode_journal_record(bad_flag), std::invalid_argument);
}
