// SPDX-License-Identifier: MIT
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
#include <vector>

#include <tollgate/credits.hpp>
#include <tollgate/detail/settlement_journal.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>

namespace tollgate {

/// Settings of a durable_ledger.
struct durable_ledger_options {
  /// The outbox journal (append-only, fsync'd). Without one, owed settlements live in memory only
  /// and any still owed at shutdown are logged as errors with their lock id and cost.
  std::optional<std::string> journal_path{};
  std::chrono::milliseconds first_retry{200};   ///< backoff doubles from here…
  std::chrono::milliseconds max_retry{30'000};  ///< …up to this
  std::chrono::milliseconds shutdown_grace{3'000};  ///< how long the destructor keeps trying
  /// How many times a lock whose answer was lost is looked up again (by its idempotency key) to
  /// release whatever it may hold. Kept in memory only: it carries the credential.
  int orphan_attempts = 20;
  std::size_t max_orphans = 10'000;
  logger log{};
};

/// A ledger decorator: lock, release and health pass through; a settle that fails for a
/// transient reason (service down, timeout, 5xx) is journaled to the outbox and answered as
/// `deferred`, then retried in the background with exponential backoff until it lands — also
/// after a restart, from the journal. A retry that meets `lock_not_found` after an earlier attempt
/// (which may have landed before its answer was lost) is reported and dropped, not retried forever.
/// A deferred charge above its hold that the ledger then refuses is settled for the hold instead;
/// any other refusal is reported and dropped. A lock whose answer was lost (it may have been
/// applied) is looked up again with its idempotency key and released, so no hold is orphaned.
/// Deferred settlements must land within the ledger's lock TTL; past it they find no lock.
///
///     tollgate::credit_service_ledger service{options};
///     tollgate::durable_ledger ledger{service, {.journal_path = "/var/lib/api/settlements.journal"}};
///
/// Over a ledger that also models `async_ledger` (credit_service_ledger, memory_ledger), it models
/// `async_ledger` too: the async forms go to the inner ledger's, and a transient settle failure is
/// journaled when its answer comes (on the thread that got the answer) and answered as `deferred`.
/// Retries run on the outbox's own thread, as for the blocking forms.
template <ledger Inner>
class durable_ledger : public detail::async_ledger_opt_in<async_ledger<Inner>> {
 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "durable";  ///< the `ledger` label of its metrics
  static constexpr bool in_process = in_process_ledger<Inner>;

  durable_ledger(Inner& inner, durable_ledger_options options) : inner_(inner), options_(std::move(options)) {
    if (options_.journal_path) {
      journal_.emplace(*options_.journal_path);
      for (auto& owed : journal_->recover()) {
        options_.log.warn("outbox: settlement of lock {} for {} recovered from the journal; retrying", owed.lock_id, owed.real_cost);
        queue_.emplace(owed.lock_id, entry{owed.real_cost, owed.hold, 1, clock::now(), options_.first_retry});
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
    for (const auto& o : orphans_)
      options_.log.error("outbox: the lock with key {} was never answered and may hold {} until the ledger expires it", o.key, o.amount);
  }

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    auto grant = attempt_lock(credential, amount, key);
    note_lock(credential, amount, key, grant);
    return grant;
  }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    return after_settle(lock_id, real_cost, attempt(lock_id, real_cost));
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  template <class Handler>
    requires async_ledger<Inner>
  void async_lock(std::string_view credential, credits amount, std::string_view key, Handler&& done) {
    inner_.async_lock(credential, amount, key,
                      [this, credential = std::string(credential), amount, key = std::string(key),
                       done = std::forward<Handler>(done)](result<lock_grant> grant) mutable {
                        note_lock(credential, amount, key, grant);
                        std::move(done)(std::move(grant));
                      });
  }
  template <class Handler>
    requires async_ledger<Inner>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    auto answer = [this, lock_id = std::string(lock_id), real_cost, done = std::forward<Handler>(done)](result<settlement> outcome) mutable {
      std::move(done)(after_settle(lock_id, real_cost, std::move(outcome)));
    };
    if (real_cost == credits{})
      inner_.async_release(lock_id, std::move(answer));
    else
      inner_.async_settle(lock_id, real_cost, std::move(answer));
  }
  template <class Handler>
    requires async_ledger<Inner>
  void async_release(std::string_view lock_id, Handler&& done) {
    async_settle(lock_id, credits{}, std::forward<Handler>(done));
  }

  [[nodiscard]] bool health() { return inner_.health(); }

  /// Settlements owed and not yet landed.
  [[nodiscard]] std::size_t pending() const {
    std::lock_guard guard(mutex_);
    return queue_.size();
  }

  /// How long the oldest settlement still owed has been waiting (zero when none is): an outbox that
  /// only grows older means the ledger behind it is not taking settlements.
  [[nodiscard]] std::chrono::steady_clock::duration oldest_pending_age() const {
    std::lock_guard guard(mutex_);
    const auto now = std::chrono::steady_clock::now();
    auto oldest = now;
    for (const auto& [_, e] : queue_) oldest = std::min(oldest, e.queued_at);
    return now - oldest;
  }

  /// Locks whose answer was lost, still to be looked up and released.
  [[nodiscard]] std::size_t unanswered_locks() const {
    std::lock_guard guard(mutex_);
    return orphans_.size();
  }

  /// Retries everything now and waits until nothing is owed or `timeout` passes; true if empty.
  bool flush(std::chrono::milliseconds timeout) {
    std::unique_lock guard(mutex_);
    for (auto& [_, e] : queue_) e.next_at = clock::now();
    wake_.notify_all();
    for (auto& o : orphans_) o.next_at = clock::now();
    wake_.notify_all();
    return drained_.wait_for(guard, timeout, [&] { return queue_.empty() && orphans_.empty(); });
  }

 private:
  // Remembers what a granted lock holds (for a deferred overage), or queues a lock whose answer
  // was lost for a look-up that releases whatever it may hold.
  void note_lock(std::string_view credential, credits amount, std::string_view key, const result<lock_grant>& grant) {
    std::lock_guard guard(mutex_);
    if (grant) {
      holds_[grant->lock_id] = grant->amount;
    } else if (grant.error().may_have_applied && !key.empty()) {
      if (orphans_.size() < options_.max_orphans) {
        orphans_.push_back(orphan{redacted(std::string(credential)), amount, std::string(key), 0,
                                  clock::now() + options_.first_retry, options_.first_retry});
        wake_.notify_all();
      } else {
        options_.log.error("outbox: too many unanswered locks; lock with key {} may hold {} until the ledger expires it", key, amount);
      }
    }
  }

  // A settle's answer as the caller sees it: a transient failure is journaled and becomes `deferred`.
  result<settlement> after_settle(std::string_view lock_id, credits real_cost, result<settlement> outcome) {
    std::unique_lock guard(mutex_);
    credits hold{};
    if (auto h = holds_.find(std::string(lock_id)); h != holds_.end()) {
      hold = h->second;
      holds_.erase(h);
    }
    if (outcome || !is_transient(outcome.error().code)) return outcome;
    try {
      if (journal_) journal_->owe({std::string(lock_id), real_cost, hold});
      queue_.insert_or_assign(std::string(lock_id), entry{real_cost, hold, 1, clock::now() + options_.first_retry, options_.first_retry});
    } catch (const std::exception& e) {
      options_.log.error("outbox: could not journal the settlement of lock {}: {}", lock_id, e.what());
      return outcome;  // not deferred: the caller's own failure path (log, hook) applies
    }
    guard.unlock();
    wake_.notify_all();
    return settlement{real_cost, false, true};
  }

  using clock = std::chrono::steady_clock;
  struct entry {
    credits cost;
    credits hold;  ///< what the lock holds, when known (zero: unknown)
    int attempts;
    clock::time_point next_at;
    std::chrono::milliseconds backoff;
    clock::time_point queued_at = clock::now();  ///< when it entered the outbox (this process's start, if recovered)
  };

  // A lock whose answer was lost: its key, to look it up again and release it.
  struct orphan {
    redacted credential;
    credits amount;
    std::string key;
    int attempts;
    clock::time_point next_at;
    std::chrono::milliseconds backoff;
  };

  result<lock_grant> attempt_lock(std::string_view credential, credits amount, std::string_view key) {
    try {
      return inner_.lock(credential, amount, key);
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()};
    }
  }

  // Looks an unanswered lock up again by its key: a grant means it was (or now is) held, and it
  // is released through the outbox; a refusal means nothing is held.
  void reconcile(std::unique_lock<std::mutex>& guard, orphan o) {
    guard.unlock();
    auto grant = attempt_lock(o.credential.reveal(), o.amount, o.key);
    guard.lock();
    if (!grant && is_transient(grant.error().code)) {
      if (++o.attempts >= options_.orphan_attempts) {
        options_.log.error("outbox: gave up looking up the lock with key {} ({} held at most) after {} attempts", o.key, o.amount, o.attempts);
        return;
      }
      o.next_at = clock::now() + o.backoff;
      o.backoff = std::min(o.backoff * 2, options_.max_retry);
      orphans_.push_back(std::move(o));
      return;
    }
    if (!grant) return;  // refused now: nothing is held under that key
    options_.log.warn("outbox: the lock with key {} was held ({}) though its answer was lost; releasing it", o.key, grant->amount);
    if (journal_) {
      try {
        journal_->owe({grant->lock_id, credits{}, grant->amount});
      } catch (const std::exception& e) {
        options_.log.error("outbox: could not journal the release of lock {}: {}", grant->lock_id, e.what());
      }
    }
    queue_.insert_or_assign(grant->lock_id, entry{credits{}, grant->amount, 1, clock::now(), options_.first_retry});
  }

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
      if (auto o = std::find_if(orphans_.begin(), orphans_.end(), [](const orphan& x) { return x.next_at <= clock::now(); });
          o != orphans_.end()) {
        orphan taken = std::move(*o);
        orphans_.erase(o);
        reconcile(guard, std::move(taken));
        if (queue_.empty() && orphans_.empty()) drained_.notify_all();
        continue;
      }
      auto due = queue_.end();
      for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (due == queue_.end() || it->second.next_at < due->second.next_at) due = it;
      auto wake_at = clock::time_point::max();
      for (const auto& o : orphans_) wake_at = std::min(wake_at, o.next_at);
      if (due != queue_.end()) wake_at = std::min(wake_at, due->second.next_at);
      if (due == queue_.end() || clock::now() < due->second.next_at) {
        if (wake_at == clock::time_point::max()) wake_.wait(guard);
        else wake_.wait_until(guard, wake_at);  // a copy: entries may be erased while we wait
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
      if (!outcome && e.hold > credits{} && e.cost > e.hold &&
          (outcome.error().code == ledger_errc::invalid_amount || outcome.error().code == ledger_errc::insufficient_funds)) {
        // A deferred overage the ledger will not take: settle for what the lock holds instead.
        options_.log.warn("outbox: lock {}: {} above its hold refused ({}); settling for the hold {}", lock_id, e.cost,
                          outcome.error().message, e.hold);
        it->second.cost = e.hold;
        it->second.next_at = clock::now();
        if (journal_) {
          try {
            journal_->owe({lock_id, e.hold, e.hold});
          } catch (const std::exception& ex) {
            options_.log.error("outbox: could not journal lock {}: {}", lock_id, ex.what());
          }
        }
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
      if (queue_.empty() && orphans_.empty()) drained_.notify_all();
    }
  }

  Inner& inner_;
  durable_ledger_options options_;
  std::optional<detail::settlement_journal> journal_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::map<std::string, entry> queue_;
  std::map<std::string, credits> holds_;  // open locks granted through this ledger → amount held
  std::vector<orphan> orphans_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_DURABLE_LEDGER_HPP
