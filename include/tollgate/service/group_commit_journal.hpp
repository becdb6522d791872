// SPDX-License-Identifier: MIT
// group_commit_journal: an append-only journal where concurrent changes share one write and one fdatasync.
#ifndef TOLLGATE_SERVICE_GROUP_COMMIT_JOURNAL_HPP
#define TOLLGATE_SERVICE_GROUP_COMMIT_JOURNAL_HPP

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/service/journal_segment.hpp>

namespace tollgate::detail {

/// The journal could not be written or synced: changes past the last durable one are not saved
/// until a snapshot taken after the failure is (see group_commit_journal::snapshot_durable).
struct journal_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// An append-only journal with group commit. `append` only copies an encoded record into a buffer
/// under a mutex and returns its sequence number: cheap enough to call from under a ledger's lock.
/// `wait_durable(seq)` returns once every record up to `seq` is on disk: the first waiter finding
/// no flush running becomes the leader, takes the whole buffer, writes it as one frame per segment
/// and fdatasyncs *outside* the mutex, then publishes the new durable sequence number and wakes the
/// others; records appended meanwhile go with the next flush. So N concurrent changes cost one
/// fsync, not N.
///
/// Fail-stop: after a failed write or fdatasync nothing more is written (the file's tail is in an
/// unknown state, and a retried fsync can report success for data that was lost), and every wait
/// for a record that was not durable throws journal_failed. Only a snapshot of the whole state
/// taken at a cut after the failure (rotate, then snapshot_durable) makes the journal usable again.
///
///     auto seq = journal.append(record);   // while the change is made
///     journal.wait_durable(seq);           // before the change is acknowledged
class group_commit_journal {
 public:
  explicit group_commit_journal(std::shared_ptr<segment_file> current, std::uint64_t start_seq = 0)
      : current_(std::move(current)), appended_(start_seq), durable_(start_seq), segment_bytes_(current_->size()) {}
  group_commit_journal(const group_commit_journal&) = delete;
  group_commit_journal& operator=(const group_commit_journal&) = delete;

  /// Called (outside the mutex) when the current segment grows past `bytes`, once per segment.
  void on_segment_full(std::uint64_t bytes, std::function<void()> callback) {
    std::lock_guard guard(mutex_);
    segment_limit_ = bytes;
    on_full_ = std::move(callback);
  }
  /// Called (outside the mutex) when a flush fails.
  void on_failure(std::function<void()> callback) {
    std::lock_guard guard(mutex_);
    on_failure_ = std::move(callback);
  }

  /// Adds one record; returns its sequence number. Never does I/O.
  std::uint64_t append(std::string_view record) {
    std::function<void()> full;
    std::uint64_t seq = 0;
    {
      std::lock_guard guard(mutex_);
      seq = ++appended_;
      // While failed, a record of the broken segment is dropped: the snapshot that ends the
      // failure is cut after it, so it holds this change.
      if (failed_ && current_->number() <= failed_segment_) return seq;
      if (pending_.empty() || pending_.back().file != current_) pending_.push_back({current_, {}});
      append_journal_record(pending_.back().records, record);
      segment_bytes_ += 4 + record.size();
      if (segment_limit_ != 0 && segment_bytes_ >= segment_limit_ && !full_reported_) {
        full_reported_ = true;
        full = on_full_;
      }
    }
    if (full) full();
    return seq;
  }

  /// The sequence number of the last record appended.
  [[nodiscard]] std::uint64_t appended() const {
    std::lock_guard guard(mutex_);
    return appended_;
  }
  /// The sequence number up to which every record is durable.
  [[nodiscard]] std::uint64_t durable() const {
    std::lock_guard guard(mutex_);
    return durable_;
  }

  /// Returns once every record up to `seq` is durable; throws journal_failed when it cannot be.
  void wait_durable(std::uint64_t seq) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (durable_ >= seq) return;
      if (failed_) throw journal_failed(*failed_);
      if (flushing_) {
        cv_.wait(lock);
        continue;
      }
      // The leader: take everything appended so far and write it outside the mutex.
      flushing_ = true;
      std::deque<chunk> batch = std::move(pending_);
      pending_.clear();
      const std::uint64_t target = appended_;
      lock.unlock();
      std::optional<std::string> error;
      try {
        write(batch);
      } catch (const std::exception& e) {
        error = e.what();
      }
      batch.clear();  // closes retired segment files outside the mutex
      lock.lock();
      flushing_ = false;
      if (!error) {
        durable_ = std::max(durable_, target);
      } else {
        failed_ = std::move(error);
        failed_segment_ = current_->number();  // every segment up to the newest is suspect
        pending_.clear();                      // covered by the snapshot that ends the failure
      }
      cv_.notify_all();
      if (failed_ && !failure_reported_) {
        failure_reported_ = true;
        auto callback = on_failure_;
        lock.unlock();
        if (callback) callback();
        lock.lock();
      }
    }
  }

  /// Every record appended so far, durable; throws journal_failed.
  void sync() { wait_durable(appended()); }

  /// Switches to `next` for the records appended from now on and returns the sequence number of
  /// the last record that goes to the previous segment. No I/O (create `next` beforehand): meant
  /// for memory_ledger::export_state's `at_cut`. Records already buffered for the previous segment
  /// are still written there, before any record of `next`.
  std::uint64_t rotate(std::shared_ptr<segment_file> next) {
    std::lock_guard guard(mutex_);
    current_ = std::move(next);
    segment_bytes_ = current_->size();
    full_reported_ = false;
    return appended_;
  }

  /// A snapshot holding every change up to `cut_seq` (as returned by rotate into segment
  /// `first_kept_segment`) is durable: those records need no journal any more. Ends a failure when
  /// the cut was made after it. Returns whether the journal is healthy now.
  bool snapshot_durable(std::uint64_t cut_seq, std::uint64_t first_kept_segment) {
    std::lock_guard guard(mutex_);
    durable_ = std::max(durable_, cut_seq);
    while (!pending_.empty() && pending_.front().file->number() < first_kept_segment) pending_.pop_front();
    if (failed_ && first_kept_segment > failed_segment_) {
      failed_.reset();
      failure_reported_ = false;
    }
    cv_.notify_all();
    return !failed_;
  }

  /// The failure that stopped the journal, if it is stopped.
  [[nodiscard]] std::optional<std::string> failure() const {
    std::lock_guard guard(mutex_);
    return failed_;
  }
  /// The segment records are appended to now.
  [[nodiscard]] std::uint64_t current_segment() const {
    std::lock_guard guard(mutex_);
    return current_->number();
  }
  /// Bytes in the current segment, counting records appended but not yet written.
  [[nodiscard]] std::uint64_t segment_bytes() const {
    std::lock_guard guard(mutex_);
    return segment_bytes_;
  }
  /// How many fdatasyncs the journal made: with group commit, fewer than records under load.
  [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
  /// How many flushes (group commits) wrote something.
  [[nodiscard]] std::uint64_t flushes() const noexcept { return flushes_.load(std::memory_order_relaxed); }

  /// For tests: makes the next `count` syncs fail as an I/O error would.
  void fail_next_syncs(int count) noexcept { injected_failures_.store(count, std::memory_order_relaxed); }

 private:
  struct chunk {
    std::shared_ptr<segment_file> file;
    std::string records;  // length-prefixed records, the body of the frame(s) to write
  };

  // Writes each chunk to its segment as frames of at most journal_max_frame_bytes, then syncs it;
  // an older segment is complete on disk before a record of the next one is written.
  void write(const std::deque<chunk>& batch) {
    bool wrote = false;
    for (const chunk& c : batch) {
      if (c.records.empty()) continue;
      std::string frames;
      frames.reserve(c.records.size() + journal_frame_header_bytes);
      std::string_view rest = c.records;
      while (!rest.empty()) {
        std::size_t take = 0;  // whole records only
        while (take < rest.size()) {
          const std::size_t next = 4 + get_u32(rest.data() + take);
          if (take != 0 && take + next > journal_max_frame_bytes) break;
          take += next;
        }
        append_journal_frame(frames, rest.substr(0, take));
        rest.remove_prefix(take);
      }
      c.file->write(frames);
      if (injected_failures_.load(std::memory_order_relaxed) > 0) {
        injected_failures_.fetch_sub(1, std::memory_order_relaxed);
        throw std::runtime_error(fmt::format("cannot fdatasync {}: injected failure", c.file->path()));
      }
      c.file->sync();
      syncs_.fetch_add(1, std::memory_order_relaxed);
      wrote = true;
    }
    if (wrote) flushes_.fetch_add(1, std::memory_order_relaxed);
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<segment_file> current_;
  std::deque<chunk> pending_;
  std::uint64_t appended_ = 0;
  std::uint64_t durable_ = 0;
  bool flushing_ = false;
  std::optional<std::string> failed_;
  std::uint64_t failed_segment_ = 0;
  bool failure_reported_ = false;
  std::uint64_t segment_bytes_ = 0;
  std::uint64_t segment_limit_ = 0;
  bool full_reported_ = false;
  std::function<void()> on_full_;
  std::function<void()> on_failure_;
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::uint64_t> flushes_{0};
  std::atomic<int> injected_failures_{0};
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_SERVICE_GROUP_COMMIT_JOURNAL_HPP
