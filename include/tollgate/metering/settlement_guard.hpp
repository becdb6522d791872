// SPDX-License-Identifier: MIT
// settlement_guard: settles a lock exactly once — explicitly, or as a full refund when it goes out of scope.
#ifndef TOLLGATE_METERING_SETTLEMENT_GUARD_HPP
#define TOLLGATE_METERING_SETTLEMENT_GUARD_HPP

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>

namespace tollgate {

/// A settlement the ledger did not accept: what to retry, and why it failed.
struct failed_settlement {
  std::string lock_id;
  credits real_cost;
  ledger_error error;
};

/// Called when a settle fails, after it is logged: the hook for durable retries (an outbox).
using settle_failure_handler = std::function<void(const failed_settlement&)>;

/// Owns one lock until it is settled. `settle(cost)` settles it; if that never happens (the
/// handler threw, the stream was abandoned, the thread unwinds at shutdown) the destructor
/// releases it in full. Either way the ledger hears about the lock exactly once from this guard.
class settlement_guard {
 public:
  settlement_guard(ledger_ref ledger, std::string lock_id, redacted user, logger log, settle_failure_handler on_failure = {})
      : ledger_(ledger),
        owned_(std::in_place, owned_parts{std::move(lock_id), std::move(user), std::move(log), std::move(on_failure)}),
        lock_id_(owned_->lock_id), user_(&owned_->user), log_(&owned_->log), on_failure_(&owned_->on_failure) {}

  /// The tag of the borrowing constructor.
  struct borrow_t {
    explicit borrow_t() = default;
  };
  static constexpr borrow_t borrow{};

  /// Borrows everything but the ledger reference: each argument must outlive the guard. What
  /// metered uses, so a request copies no string and touches no shared reference count here.
  settlement_guard(ledger_ref ledger, std::string_view lock_id, const redacted& user, const logger& log,
                   const settle_failure_handler& on_failure, borrow_t) noexcept
      : ledger_(ledger), lock_id_(lock_id), user_(&user), log_(&log), on_failure_(&on_failure) {}
  settlement_guard(const settlement_guard&) = delete;
  settlement_guard& operator=(const settlement_guard&) = delete;

  ~settlement_guard() {
    if (settled_) return;
    try {
      settle(credits{});
    } catch (...) {  // a destructor must not throw; settle() already logged
    }
  }

  /// Settles for `cost`. The first call does the work and returns the outcome; later calls do
  /// nothing and return nullopt. A failure is logged (lock id, never the credential) and handed
  /// to the failure hook.
  std::optional<result<settlement>> settle(credits cost) {
    if (settled_) return std::nullopt;
    settled_ = true;
    result<settlement> outcome = attempt(cost);
    if (!outcome) {
      log_->error("settle failed for lock {} (user {}, cost {}): {}: {}", lock_id_, *user_, cost,
                  to_string(outcome.error().code), outcome.error().message);
      if (*on_failure_) {
        try {
          (*on_failure_)(failed_settlement{std::string(lock_id_), cost, outcome.error()});
        } catch (const std::exception& e) {
          log_->error("settle-failure hook threw for lock {}: {}", lock_id_, e.what());
        } catch (...) {
          log_->error("settle-failure hook threw for lock {}", lock_id_);
        }
      }
    }
    return outcome;
  }

  /// Tries to settle for `cost` once. Success settles the guard; a failure leaves it open, with
  /// nothing logged and no hook called, so the caller can settle differently (e.g. for less).
  result<settlement> try_settle(credits cost) {
    if (settled_) return ledger_error{ledger_errc::conflicting_settlement, "this guard has settled its lock already"};
    result<settlement> outcome = attempt(cost);
    if (outcome) settled_ = true;
    return outcome;
  }

  [[nodiscard]] bool settled() const noexcept { return settled_; }
  [[nodiscard]] std::string_view lock_id() const noexcept { return lock_id_; }

 private:
  result<settlement> attempt(credits cost) {
    try {
      return cost == credits{} ? ledger_.release(lock_id_) : ledger_.settle(lock_id_, cost);
    } catch (const std::exception& e) {  // a user ledger that throws is treated as unreachable
      return ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()};
    } catch (...) {
      return ledger_error{ledger_errc::unavailable, "the ledger threw"};
    }
  }

  struct owned_parts {
    std::string lock_id;
    redacted user;
    logger log;
    settle_failure_handler on_failure;
  };

  ledger_ref ledger_;
  std::optional<owned_parts> owned_;  // empty when borrowing
  std::string_view lock_id_;
  const redacted* user_;
  const logger* log_;
  const settle_failure_handler* on_failure_;
  bool settled_ = false;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_SETTLEMENT_GUARD_HPP
