// SPDX-License-Identifier: MIT
// async_settlement: the settlement_guard of metered's non-blocking path.
#ifndef TOLLGATE_METERING_ASYNC_SETTLEMENT_HPP
#define TOLLGATE_METERING_ASYNC_SETTLEMENT_HPP

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/detail/recycling_allocator.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metering/settlement_guard.hpp>
#include <tollgate/metrics/metering_metrics.hpp>

namespace tollgate {

/// Owns one lock on the non-blocking path until it is settled. `settle(cost)` asks the async
/// ledger and, when the answer comes, logs a failure (lock id, never the credential) and hands it
/// to the failure hook, as settlement_guard does; if `settle` never happens (the handler threw, a
/// stream was dropped) the destructor releases the lock in full. Either way the ledger hears about
/// the lock exactly once from it. The answer may come after the request is gone, so it keeps its
/// own copies of what reporting needs; the ledger must outlive every answer.
class async_settlement {
 public:
  /// `observer`: the route's metrics (null: none), told of each answer; it must outlive them.
  async_settlement(async_ledger_ref ledger, std::string lock_id, credits hold, redacted user, logger log,
                   settle_failure_handler on_failure, const metrics::observed_ledger* observer = nullptr)
      : ledger_(ledger),
        parts_(std::allocate_shared<parts>(detail::recycling_allocator<parts>{}, std::move(lock_id), hold, std::move(user),
                                                 std::move(log), std::move(on_failure), observer)) {}
  async_settlement(const async_settlement&) = delete;
  async_settlement& operator=(const async_settlement&) = delete;
  ~async_settlement() {
    if (!settled_) settle(credits{});
  }

  /// Settles for `cost` (a release for zero). The first call asks the ledger; later calls do nothing.
  void settle(credits cost) noexcept {
    if (settled_) return;
    settled_ = true;
    send(ledger_, parts_, cost, std::exchange(settle_from_, {}));
  }

  /// With metrics on, the next settle's timing starts at `at`, a clock read the caller made anyway.
  void start_settle(std::chrono::steady_clock::time_point at) noexcept { settle_from_ = at; }

  /// The charge_actual overage: tries `cost`; a refusal that is not transient (no allowance, a
  /// balance that does not cover it) settles `fallback` (the hold) instead and reports only that;
  /// a transient one tries `cost` once more, then takes the usual failure path.
  void settle_or(credits cost, credits fallback) noexcept {
    if (settled_) return;
    settled_ = true;
    try {
      ledger_.async_settle(parts_->lock_id, cost, [ledger = ledger_, p = parts_, cost, fallback](result<settlement> outcome) {
        if (outcome) return report(*p, cost, outcome);
        if (is_transient(outcome.error().code)) return send(ledger, p, cost);
        p->log.warn("lock {}: overage {} refused by the ledger ({}); settling for the estimate {}", p->lock_id, cost,
                    outcome.error().message, fallback);
        send(ledger, p, fallback);
      });
    } catch (const std::exception& e) {  // a ledger that throws instead of completing: unreachable
      report(*parts_, cost, ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()});
    } catch (...) {
      report(*parts_, cost, ledger_error{ledger_errc::unavailable, "the ledger threw"});
    }
  }

  [[nodiscard]] bool settled() const noexcept { return settled_; }
  [[nodiscard]] const std::string& lock_id() const noexcept { return parts_->lock_id; }

 private:
  struct parts {
    parts(std::string lock_id_, credits hold_, redacted user_, logger log_, settle_failure_handler on_failure_,
          const metrics::observed_ledger* observer_)
        : lock_id(std::move(lock_id_)), hold(hold_), user(std::move(user_)), log(std::move(log_)), on_failure(std::move(on_failure_)),
          observer(observer_) {}
    std::string lock_id;
    credits hold;
    redacted user;
    logger log;
    settle_failure_handler on_failure;
    const metrics::observed_ledger* observer;
  };

  static void send(const async_ledger_ref& ledger, const std::shared_ptr<const parts>& p, credits cost,
                   std::chrono::steady_clock::time_point started = {}) noexcept {
    try {
      // Timed from `started` when the route's metrics sample this request; the capture still fits
      // unique_function's inline buffer.
      const auto sent_at = p->observer ? started : std::chrono::steady_clock::time_point{};
      auto done = [p, cost, sent_at](result<settlement> outcome) { report(*p, cost, outcome, sent_at); };
      if (cost == credits{})
        ledger.async_release(p->lock_id, std::move(done));
      else
        ledger.async_settle(p->lock_id, cost, std::move(done));
    } catch (const std::exception& e) {
      report(*p, cost, ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()});
    } catch (...) {
      report(*p, cost, ledger_error{ledger_errc::unavailable, "the ledger threw"});
    }
  }

  static void report(const parts& p, credits cost, const result<settlement>& outcome,
                     std::chrono::steady_clock::time_point sent_at = {}) noexcept {
    if (p.observer) p.observer->async_settled(sent_at, cost == credits{}, outcome, p.hold);
    try {
      if (outcome) {
        if (outcome->deferred)
          p.log.warn("lock {}: settlement of {} deferred to the outbox; it is retried until it lands", p.lock_id, cost);
        else
          p.log.debug("lock {} settled: charged {} of {} held (user {})", p.lock_id, outcome->charged, p.hold, p.user);
        return;
      }
      p.log.error("settle failed for lock {} (user {}, cost {}): {}: {}", p.lock_id, p.user, cost,
                  to_string(outcome.error().code), outcome.error().message);
      if (p.on_failure) p.on_failure(failed_settlement{p.lock_id, cost, outcome.error()});
    } catch (const std::exception& e) {
      p.log.error("settle-failure hook threw for lock {}: {}", p.lock_id, e.what());
    } catch (...) {
      p.log.error("settle-failure hook threw for lock {}", p.lock_id);
    }
  }

  async_ledger_ref ledger_;
  std::shared_ptr<const parts> parts_;
  std::chrono::steady_clock::time_point settle_from_{};
  bool settled_ = false;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_ASYNC_SETTLEMENT_HPP
