// SPDX-License-Identifier: MIT
// state_store: the credit server's durable state: a snapshot file, journal segments after it, compaction.
#ifndef TOLLGATE_SERVICE_STATE_STORE_HPP
#define TOLLGATE_SERVICE_STATE_STORE_HPP

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/ledgers/ledger_change.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/service/group_commit_journal.hpp>
#include <tollgate/service/journal_record.hpp>
#include <tollgate/service/journal_segment.hpp>
#include <tollgate/service/state_file.hpp>

namespace tollgate::detail {

/// Settings of a state_store.
struct state_store_options {
  /// The snapshot; journal segments are `<snapshot_path>.journal.<N>` next to it.
  std::string snapshot_path{};
  /// A journal segment growing past this many bytes starts a compaction (a snapshot, a new segment).
  std::uint64_t compact_after_bytes = std::uint64_t{64} << 20;
  /// After a journal failure, the first retry of the recovering snapshot; doubles up to 10 s.
  std::chrono::milliseconds first_retry = std::chrono::milliseconds(100);
};

/// The credit server's durable state. A change costs an append to a group-commit journal
/// (O(change)); the whole state is written only by compaction, on a background thread, when the
/// current segment has grown past `compact_after_bytes`:
///
/// 1. create segment N+1 (header synced, directory synced);
/// 2. `export_state` of the ledger, whose `at_cut` switches the journal to N+1 (no I/O under the
///    ledger's locks): every change before the cut is in the copy, every later one in N+1;
/// 3. copy the credential marks (a mark is an idempotent upsert, so later ones do no harm);
/// 4. write the snapshot `{…, "journal_segment": N+1, "written_at_ms": …}` atomically;
/// 5. only then delete segments < N+1.
///
/// A restart loads the snapshot, subtracts the time since `written_at_ms` from its relative times,
/// and replays segments N+1, N+2, … in order. The same compaction ends a journal failure
/// (group_commit_journal is fail-stop): its snapshot holds every change made in memory.
class state_store {
 public:
  /// Copies the service's credential marks (taken after the cut; see above).
  using marks_source = std::function<credential_marks()>;

  state_store(state_store_options options, logger log) : options_(std::move(options)), log_(std::move(log)) {
    if (options_.snapshot_path.empty()) throw std::invalid_argument("tollgate::state_store: a snapshot path is required");
  }
  state_store(const state_store&) = delete;
  state_store& operator=(const state_store&) = delete;
  ~state_store() { stop(); }

  /// The hook for memory_ledger_options::on_change: encodes the change and appends it.
  void record(const ledger_change& change) {
    thread_local std::string buffer;
    buffer.clear();
    encode_journal_record(buffer, change);
    journal_->append(buffer);
  }
  /// Journals a credential mark of the service (call it where the mark is set, under its mutex).
  void record_mark(std::string_view credential, const credential_mark& mark) {
    thread_local std::string buffer;
    buffer.clear();
    encode_credential_marked(buffer, credential, mark.credential_id, mark.is_public);
    journal_->append(buffer);
  }
  void record_unmark(std::string_view credential) {
    thread_local std::string buffer;
    buffer.clear();
    encode_credential_unmarked(buffer, credential);
    journal_->append(buffer);
  }

  /// Returns once every change recorded so far is durable; throws journal_failed.
  void sync() { journal_->sync(); }
  /// The sequence number of the last change recorded, and a wait for it (see group_commit_journal).
  [[nodiscard]] std::uint64_t last_recorded() const { return journal_->appended(); }
  void wait_durable(std::uint64_t seq) { journal_->wait_durable(seq); }

  /// Restores `ledger` and `marks` from the snapshot and the journal, repairs a torn tail, opens the
  /// journal for appending and starts the compaction thread. Throws std::runtime_error naming the
  /// file (and offset or record) when the state is damaged: never starts on a misread state.
  void open(memory_ledger& ledger, credential_marks& marks, marks_source copy_marks) {
    ledger_ = &ledger;
    copy_marks_ = std::move(copy_marks);
    std::uint64_t first_segment = 1;
    if (const auto text = read_whole_file(options_.snapshot_path)) {
      try {
        auto snapshot = state_snapshot_from_json(nlohmann::json::parse(*text));
        if (snapshot.written_at) {
          const auto down = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - *snapshot.written_at);
          subtract_downtime(snapshot.ledger, down);
        }
        ledger.import_state(snapshot.ledger);
        marks = std::move(snapshot.credentials);
        first_segment = snapshot.journal_segment;
        log_.info("state: snapshot {} (version {}): {} user(s), {} open lock(s)", options_.snapshot_path, snapshot.version,
                  snapshot.ledger.users.size(), snapshot.ledger.locks.size());
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("state file {} is damaged: {}", options_.snapshot_path, e.what()));
      }
    } else {
      // No snapshot: a first start, or the state file was removed to start afresh. Segments
      // without their snapshot cannot be replayed; they are moved aside, never replayed onto an
      // empty ledger nor deleted.
      for (const auto& [number, path] : list_segments()) {
        std::error_code ec;
        std::filesystem::rename(path, path + ".orphaned", ec);
        if (ec) throw std::runtime_error(fmt::format("cannot move the journal {} aside: {}", path, ec.message()));
        log_.warn("state: {} has no snapshot {}; moved aside to {}.orphaned, starting empty", path, options_.snapshot_path, path);
      }
      state_snapshot empty;
      empty.journal_segment = 1;
      empty.written_at = std::chrono::system_clock::now();
      empty.ledger = ledger.export_state();
      write_file_atomically(options_.snapshot_path, state_snapshot_to_json(empty).dump());
    }

    const auto segments = list_segments();
    std::vector<std::uint64_t> replay;  // older ones were superseded by the snapshot
    for (const auto& [number, path] : segments)
      if (number >= first_segment) replay.push_back(number);
    if (!replay.empty() && replay.front() != first_segment)
      throw std::runtime_error(fmt::format("journal {} is missing: the snapshot {} continues in it, but the journal starts with segment {}",
                                           segment_path(first_segment), options_.snapshot_path, replay.front()));
    for (std::size_t i = 1; i < replay.size(); ++i)
      if (replay[i] != replay[i - 1] + 1)
        throw std::runtime_error(fmt::format("journal {} is missing (segments {} and {} exist)", segment_path(replay[i - 1] + 1),
                                             replay[i - 1], replay[i]));

    std::size_t replayed = 0;
    std::optional<std::uint64_t> torn_in;  // a segment ending in a torn frame: no later one may hold records
    segment_scan last_scan;
    for (const std::uint64_t number : replay) {
      const std::string path = segment_path(number);
      const auto bytes = read_whole_file(path);
      if (!bytes) throw std::runtime_error(fmt::format("journal {} disappeared while loading", path));
      const auto scan = scan_journal_segment(*bytes, path, number, [&](std::string_view record, std::uint64_t frame_offset) {
        if (torn_in)
          throw journal_corrupt(fmt::format("journal {} ends in a torn frame, yet {} after it holds changes (at offset {})",
                                            segment_path(*torn_in), path, frame_offset));
        try {
          replay_record(ledger, marks, record);
        } catch (const std::exception& e) {
          throw journal_corrupt(fmt::format("journal {}: a record in the frame at offset {} cannot be replayed: {}", path,
                                            frame_offset, e.what()));
        }
        ++replayed;
      });
      if (scan.torn) {
        log_.warn("state: journal {} ends in a torn write ({} bytes from offset {}), dropped: a crash cut it short",
                  path, scan.file_size - scan.good_end, scan.good_end);
        if (number != replay.back()) (void)segment_file::reopen(path, number, scan);  // cut the tail off now
        torn_in = number;
      }
      last_scan = scan;
    }

    std::shared_ptr<segment_file> current;
    if (replay.empty()) current = segment_file::create(segment_path(first_segment), first_segment);
    else current = segment_file::reopen(segment_path(replay.back()), replay.back(), last_scan);
    journal_ = std::make_unique<group_commit_journal>(current);
    journal_->on_segment_full(options_.compact_after_bytes, [this] { request_compaction(); });
    journal_->on_failure([this] { request_compaction(); });
    if (replayed != 0 || !replay.empty())
      log_.info("state: replayed {} change(s) from {} journal segment(s) after the snapshot", replayed, replay.size());
    remove_segments_before(first_segment);  // superseded by the snapshot; a crash came before their removal
    thread_ = std::thread([this] { compaction_loop(); });
    opened_ = true;
  }

  /// Takes a snapshot now and starts a new segment (what the background thread does when one is
  /// full). Throws std::runtime_error when the snapshot cannot be written (the journal stays).
  void compact() {
    std::lock_guard one_at_a_time(compact_mutex_);
    const std::uint64_t next_number = journal_->current_segment() + 1;
    if (!prepared_ || prepared_->number() != next_number) {
      prepared_.reset();
      prepared_ = segment_file::create(segment_path(next_number), next_number);
    }
    state_snapshot snapshot;
    std::uint64_t cut = 0;
    snapshot.ledger = ledger_->export_state([&] {
      cut = journal_->rotate(prepared_);
      snapshot.written_at = std::chrono::system_clock::now();
    });
    prepared_.reset();
    snapshot.credentials = copy_marks_();
    snapshot.journal_segment = next_number;
    write_file_atomically(options_.snapshot_path,
                          state_snapshot_to_json(snapshot).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    const bool healthy = journal_->snapshot_durable(cut, next_number);
    compactions_.fetch_add(1, std::memory_order_relaxed);
    remove_segments_before(next_number);
    log_.info("state: snapshot written ({} user(s), {} open lock(s)); journal continues in {}{}", snapshot.ledger.users.size(),
              snapshot.ledger.locks.size(), segment_path(next_number), healthy ? "" : " (the journal is still failed)");
  }

  /// Stops the compaction thread and, at a clean shutdown, leaves a snapshot of the whole state
  /// (so the next start reads no journal); failing that, writes what is still buffered. Idempotent.
  void stop() {
    {
      std::lock_guard guard(thread_mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    thread_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (!opened_) return;  // open() failed: nothing to save, and the ledger may be gone
    try {
      compact();
      return;
    } catch (const std::exception& e) {
      log_.warn("state: no snapshot at shutdown ({}); the journal holds the state", e.what());
    }
    try {
      journal_->sync();
    } catch (const std::exception& e) {
      log_.error("state: the last changes could not be saved at shutdown: {}", e.what());
    }
  }

  [[nodiscard]] std::string segment_path(std::uint64_t number) const { return fmt::format("{}.journal.{}", options_.snapshot_path, number); }
  [[nodiscard]] const group_commit_journal& journal() const { return *journal_; }
  [[nodiscard]] group_commit_journal& journal() { return *journal_; }
  [[nodiscard]] std::uint64_t compactions() const noexcept { return compactions_.load(std::memory_order_relaxed); }

 private:
  static void replay_record(memory_ledger& ledger, credential_marks& marks, std::string_view bytes) {
    const journal_record r = decode_journal_record(bytes);
    switch (r.what) {
      case journal_record::type::ledger: ledger.apply(r.change); return;
      case journal_record::type::credential_marked: marks[std::string(r.credential)] = {std::string(r.credential_id), r.is_public}; return;
      case journal_record::type::credential_unmarked: marks.erase(std::string(r.credential)); return;
    }
  }

  // Segment files next to the snapshot, by number.
  [[nodiscard]] std::map<std::uint64_t, std::string> list_segments() const {
    const std::filesystem::path snapshot(options_.snapshot_path);
    const std::filesystem::path dir = snapshot.has_parent_path() ? snapshot.parent_path() : std::filesystem::path(".");
    const std::string prefix = snapshot.filename().string() + ".journal.";
    std::map<std::uint64_t, std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string_view digits = std::string_view(name).substr(prefix.size());
      std::uint64_t number = 0;
      const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (err != std::errc{} || end != digits.data() + digits.size() || number == 0) continue;  // e.g. a .tmp file
      out.emplace(number, entry.path().string());
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw std::runtime_error(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    return out;
  }

  void remove_segments_before(std::uint64_t first_kept) {
    bool removed = false;
    for (const auto& [number, path] : list_segments()) {
      if (number >= first_kept) break;
      std::error_code ec;
      std::filesystem::remove(path, ec);
      if (ec) log_.warn("state: cannot remove the old journal {}: {}", path, ec.message());
      removed = removed || !ec;
    }
    if (removed) {
      try {
        segment_file::sync_directory_of(options_.snapshot_path);
      } catch (const std::exception&) {  // a removal lost in a crash is only an old segment the next start removes
      }
    }
  }

  void request_compaction() {
    {
      std::lock_guard guard(thread_mutex_);
      requested_ = true;
    }
    thread_cv_.notify_all();
  }

  void compaction_loop() {
    std::chrono::milliseconds retry = options_.first_retry;
    std::unique_lock lock(thread_mutex_);
    for (;;) {
      thread_cv_.wait(lock, [&] { return stopping_ || requested_; });
      if (stopping_) return;
      requested_ = false;
      lock.unlock();
      bool again = false;
      try {
        compact();
        retry = options_.first_retry;
      } catch (const std::exception& e) {
        log_.error("state: snapshot failed, the journal is kept: {}", e.what());
        again = journal_->failure().has_value();  // only a failed journal needs it soon; else the next full segment
      }
      if (journal_->failure()) again = true;
      lock.lock();
      if (again) {
        if (thread_cv_.wait_for(lock, retry, [&] { return stopping_; })) return;
        retry = std::min<std::chrono::milliseconds>(retry * 2, std::chrono::seconds(10));
        requested_ = true;
      }
    }
  }

  state_store_options options_;
  logger log_;
  memory_ledger* ledger_ = nullptr;
  marks_source copy_marks_;
  std::unique_ptr<group_commit_journal> journal_;
  std::mutex compact_mutex_;
  std::shared_ptr<segment_file> prepared_;  // the next segment, created before its cut
  std::atomic<std::uint64_t> compactions_{0};
  std::mutex thread_mutex_;
  std::condition_variable thread_cv_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
  bool opened_ = false;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_SERVICE_STATE_STORE_HPP
