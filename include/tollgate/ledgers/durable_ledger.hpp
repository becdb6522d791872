// durable_ledger<L>: wraps any ledger so a settlement that fails transiently is never lost.
#ifndef TOLLGATE_LEDGERS_DURABLE_LEDGER_HPP
#define TOLLGATE_LEDGERS_DURABLE_LEDGER_HPP

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/detail/settlement_journal.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>

namespace tollgate {

/// Settings of a durable_ledger.
struct durable_ledger_options {
  /// The outbox journal (append-only, fsync'd). Without one, owed settlements live in memory only
  /// and any still owed at shutdown are logged as errors with their lock id and cost.
  std::optional<std::string> journal_path;
  std::chrono::milliseconds first_retry{200};   ///< backoff doubles from here…
  std::chrono::milliseconds max_retry{30'000};  ///< …up to this
  std::chrono::milliseconds shutdown_grace{3'000};  ///< how long the destructor keeps trying
  logger log{};
};

/// A ledger decorator: lock, release and health pass through; a settle that fails for a
/// transient reason (service down, timeout, 5xx) is journaled to the outbox and answered as
/// `deferred`, then retried in the background with exponential backoff until it lands — also
/// after a restart, from the journal. A retry that meets `lock_not_found` after an earlier attempt
/// (which may have landed before its answer was lost) is reported and dropped, not retried forever;
/// a conflicting or invalid settlement is reported and dropped too.
///
///     tollgate::credit_service_ledger service{options};
///     tollgate::durable_ledger ledger{service, {.journal_path = "/var/lib/api/settlements.journal"}};
template <ledger Inner>
class durable_ledger {
 public:
  using ledger_concept = ledger_t;

  durable_ledger(Inner& inner, durable_ledger_options options) : inner_(inner), options_(std::move(options)) {
    if (options_.journal_path) {
      journal_.emplace(*options_.journal_path);
      for (auto& owed : journal_->recover()) {
        options_.log.warn("outbox: settlement of lock {} for {} recovered from the journal; retrying", owed.lock_id, owed.real_cost);
        queue_.emplace(owed.lock_id, entry{owed.real_cost, 1, clock::now(), options_.first_retry});
      }
    }
    worker_ = std::thread([this] { work(); });
  }
  durable_ledger(const durable_ledger&) = delete;
  durable_ledger& operator=(const durable_ledger&) = delete;

  /// Keeps retrying for `shutdown_grace`; whatever is still owed stays in the journal for the next start.
  ~durable_ledger() {
    flush(options_.shutdown_grace);
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
    std::lock_guard guard(mutex_);
    for (const auto& [lock_id, e] : queue_) {
      if (journal_) options_.log.warn("outbox: settlement of lock {} for {} still owed; kept in {}", lock_id, e.cost, journal_->path());
      else options_.log.error("outbox: settlement of lock {} for {} still owed and no journal configured: settle it by hand", lock_id, e.cost);
    }
  }

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) { return inner_.lock(credential, amount, key); }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    auto outcome = attempt(lock_id, real_cost);
    if (outcome || !is_transient(outcome.error().code)) return outcome;
    try {
      std::lock_guard guard(mutex_);
      if (journal_) journal_->owe({std::string(lock_id), real_cost});
      queue_.insert_or_assign(std::string(lock_id), entry{real_cost, 1, clock::now() + options_.first_retry, options_.first_retry});
    } catch (const std::exception& e) {
      options_.log.error("outbox: could not journal the settlement of lock {}: {}", lock_id, e.what());
      return outcome;  // not deferred: the caller's own failure path (log, hook) applies
    }
    wake_.notify_all();
    return settlement{real_cost, false, true};
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  [[nodiscard]] bool health() { return inner_.health(); }

  /// Settlements owed and not yet landed.
  [[nodiscard]] std::size_t pending() const {
    std::lock_guard guard(mutex_);
    return queue_.size();
  }

  /// Retries everything now and waits until nothing is owed or `timeout` passes; true if empty.
  bool flush(std::chrono::milliseconds timeout) {
    std::unique_lock guard(mutex_);
    for (auto& [_, e] : queue_) e.next_at = clock::now();
    wake_.notify_all();
    return drained_.wait_for(guard, timeout, [&] { return queue_.empty(); });
  }

 private:
  using clock = std::chrono::steady_clock;
  struct entry {
    credits cost;
    int attempts;
    clock::time_point next_at;
    std::chrono::milliseconds backoff;
  };

  result<settlement> attempt(std::string_view lock_id, credits cost) {
    try {
      return cost == credits{} ? inner_.release(lock_id) : inner_.settle(lock_id, cost);
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()};
    }
  }

  void work() {
    std::unique_lock guard(mutex_);
    while (!stopping_) {
      auto due = queue_.end();
      for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (due == queue_.end() || it->second.next_at < due->second.next_at) due = it;
      if (due == queue_.end()) {
        wake_.wait(guard);
        continue;
      }
      if (const auto next_at = due->second.next_at; clock::now() < next_at) {
        wake_.wait_until(guard, next_at);  // a copy: the entry may be erased while we wait
        continue;
      }
      const std::string lock_id = due->first;
      entry e = due->second;
      guard.unlock();  // never hold the queue across a network call
      auto outcome = attempt(lock_id, e.cost);
      guard.lock();
      auto it = queue_.find(lock_id);
      if (it == queue_.end()) continue;
      if (!outcome && is_transient(outcome.error().code)) {
        it->second.attempts = e.attempts + 1;
        it->second.backoff = std::min(e.backoff * 2, options_.max_retry);
        it->second.next_at = clock::now() + e.backoff;
        options_.log.debug("outbox: lock {} still unsettled ({}); next try in {} ms", lock_id, outcome.error().message, e.backoff.count());
        continue;
      }
      if (outcome) {
        options_.log.info("outbox: settlement of lock {} for {} landed after {} attempt(s){}", lock_id, e.cost, e.attempts + 1,
                          outcome->replayed ? " (the service had it already)" : "");
      } else if (outcome.error().code == ledger_errc::lock_not_found) {
        options_.log.warn("outbox: lock {} not found on retry; an earlier attempt may have landed before its answer was lost, "
                          "or the lock expired; reported, not retried ({})", lock_id, outcome.error().message);
      } else {
        options_.log.error("outbox: settlement of lock {} for {} refused: {}: {}; dropped", lock_id, e.cost,
                           to_string(outcome.error().code), outcome.error().message);
      }
      queue_.erase(it);
      if (journal_) {
        try {
          journal_->done(lock_id, queue_.empty());
        } catch (const std::exception& ex) {
          options_.log.error("outbox: could not journal the settlement of lock {} as done: {}", lock_id, ex.what());
        }
      }
      if (queue_.empty()) drained_.notify_all();
    }
  }

  Inner& inner_;
  durable_ledger_options options_;
  std::optional<detail::settlement_journal> journal_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::map<std::string, entry> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_DURABLE_LEDGER_HPP
