// SPDX-License-Identifier: MIT
// What a metered route exports: requests by outcome, credits locked/charged/refunded, ledger latency.
#ifndef TOLLGATE_METRICS_METERING_METRICS_HPP
#define TOLLGATE_METRICS_METERING_METRICS_HPP

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/metrics/registry.hpp>

namespace tollgate::metrics {

/// The `ledger` label of a ledger: its type's `metrics_kind` member ("memory", "redis", "durable",
/// "credit_service", "offloading"), the kind a `ledger_ref` refers to, or "custom".
template <class Ledger>
[[nodiscard]] constexpr std::string_view ledger_kind(const Ledger& l) noexcept {
  if constexpr (std::same_as<Ledger, ledger_ref>) return l.kind();
  else return tollgate::detail::ledger_kind_of<Ledger>();
}

/// One metered route's metrics, every child made at construction: serving a request formats no
/// label and takes no lock, each update is one relaxed atomic add.
class route_metrics {
 public:
  /// The `outcome` label values of `tollgate_requests_total`.
  static constexpr std::array<std::string_view, 8> outcomes{"served", "400", "401", "402", "404", "500", "503", "other"};

  route_metrics(registry& r, std::string_view route, std::string_view ledger) {
    auto& requests = r.counter("tollgate_requests_total",
                               "Requests to metered routes by outcome: served (the handler ran and the lock was settled) "
                               "or the status tollgate answered instead.",
                               {"route", "outcome"});
    for (std::size_t i = 0; i < outcomes.size(); ++i) requests_[i] = &requests.with({route, outcomes[i]});
    locked_ = &r.counter("tollgate_credits_locked_micros_total", "Micro-credits held by granted locks (1 credit = 1000000).",
                         {"route"}).with({route});
    charged_ = &r.counter("tollgate_credits_charged_micros_total", "Micro-credits charged by settled locks (1 credit = 1000000).",
                          {"route"}).with({route});
    refunded_ = &r.counter("tollgate_credits_refunded_micros_total",
                           "Micro-credits returned to payers: the hold minus the charge, when a lock is settled or released.",
                           {"route"}).with({route});
    auto& latency = r.histogram("tollgate_ledger_call_duration_seconds", "Ledger call latency by operation and ledger kind.",
                                {"operation", "ledger"}, histogram::latency_seconds());
    lock_latency_ = &latency.with({"lock", ledger});
    settle_latency_ = &latency.with({"settle", ledger});
    release_latency_ = &latency.with({"release", ledger});
    settle_failures_ = &r.counter("tollgate_settle_failures_total",
                                  "Settle or release calls the ledger did not accept (each is logged and handed to on_settle_failure).",
                                  {"ledger"}).with({ledger});
  }

  void served() noexcept { requests_[0]->inc(); }
  /// A request tollgate answered itself with `status` (the handler did not run, or its answer was withheld).
  void answered(int status) noexcept {
    std::size_t i = 7;
    switch (status) {
      case 400: i = 1; break;
      case 401: i = 2; break;
      case 402: i = 3; break;
      case 404: i = 4; break;
      case 500: i = 5; break;
      case 503: i = 6; break;
      default: break;
    }
    requests_[i]->inc();
  }

  counter* locked_;
  counter* charged_;
  counter* refunded_;
  counter* settle_failures_;
  metrics::histogram* lock_latency_;
  metrics::histogram* settle_latency_;
  metrics::histogram* release_latency_;

 private:
  std::array<counter*, outcomes.size()> requests_{};
};

namespace detail {
[[nodiscard]] inline std::uint64_t micros_of(credits c) noexcept { return c.micros() > 0 ? static_cast<std::uint64_t>(c.micros()) : 0; }
}  // namespace detail

/// A ledger decorator metered puts in front of a route's ledger when its metrics are on: each
/// call is counted, a refused lock under the status it is answered with. Off, metered holds the
/// ledger itself and none of this runs.
///
/// Latency is sampled: the ledger calls of one request in `time_one_in` (per thread) are timed,
/// the others read no clock. A timed request reads the clock before its lock and after its settle;
/// the lock's end and the settle's start are the reads metered makes around the handler (which a
/// calculator reading elapsed() needs anyway). `time_one_in` 1 times every request.
class observed_ledger {
 public:
  using ledger_concept = ledger_t;
  using clock = std::chrono::steady_clock;

  /// `m` must live as long as any answer may come: the registry keeps it (`registry::keep`).
  observed_ledger(ledger_ref inner, route_metrics* m, int (*status_for)(ledger_errc), std::uint32_t time_one_in) noexcept
      : inner_(inner), m_(m), status_for_(status_for), time_one_in_(time_one_in) {}

  [[nodiscard]] route_metrics& metrics() const noexcept { return *m_; }

  /// Whether this request's calls are timed: one in `time_one_in`, counted per thread (no atomic).
  [[nodiscard]] bool sample() const noexcept {
    if (time_one_in_ == 0) return false;
    thread_local std::uint32_t tick = 0;
    if (++tick < time_one_in_) return false;
    tick = 0;
    return true;
  }

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    const auto t0 = sample() ? clock::now() : clock::time_point{};
    lock_started() = {};
    try {
      auto grant = inner_.lock(credential, amount, key);
      if (t0 != clock::time_point{}) {
        if (grant) lock_started() = t0;  // the lock's timing ends at metered's next read: lock_finished
        else m_->lock_latency_->observe(clock::now() - t0);
      }
      locked(*m_, status_for_, grant);
      return grant;
    } catch (...) {
      if (t0 != clock::time_point{}) m_->lock_latency_->observe(clock::now() - t0);
      m_->answered(status_for_(ledger_errc::unavailable));  // metered answers a throwing ledger as unavailable
      throw;
    }
  }
  /// Whether this thread's last granted lock is being timed (the request was sampled).
  [[nodiscard]] static bool timing_this_request() noexcept { return lock_started() != clock::time_point{}; }
  /// Ends the timing of this thread's last granted lock at `at` (a read the caller made anyway).
  void lock_finished(clock::time_point at) const noexcept {
    if (timing_this_request()) m_->lock_latency_->observe(at - lock_started());
  }

  /// `started`: a read made just before, to time the call from (zero: not timed).
  result<settlement> settle(std::string_view lock_id, credits cost, clock::time_point started = {}) {
    return timed(*m_->settle_latency_, started, [&] { return inner_.settle(lock_id, cost); });
  }
  result<settlement> release(std::string_view lock_id, clock::time_point started = {}) {
    return timed(*m_->release_latency_, started, [&] { return inner_.release(lock_id); });
  }
  [[nodiscard]] bool health() { return inner_.health(); }

  /// The non-blocking path's lock answer, asked at `asked_at` (zero: not timed). No handler is
  /// wrapped, so no allocation is added.
  void async_lock_answered(clock::time_point asked_at, const result<lock_grant>& grant) const noexcept {
    if (asked_at != clock::time_point{}) m_->lock_latency_->observe(clock::now() - asked_at);
    locked(*m_, status_for_, grant);
  }
  /// The non-blocking path's settle (or release) answer, sent at `sent_at` (zero: not timed).
  void async_settled(clock::time_point sent_at, bool release, const result<settlement>& outcome, credits hold) const noexcept {
    if (sent_at != clock::time_point{}) (release ? m_->release_latency_ : m_->settle_latency_)->observe(clock::now() - sent_at);
    if (!outcome) m_->settle_failures_->inc();
    settled(outcome, hold);
  }

  /// Counts what a settle of a lock holding `hold` charged and refunded (a replay counts nothing).
  void settled(const result<settlement>& outcome, credits hold) const noexcept {
    if (!outcome || outcome->replayed) return;
    m_->charged_->inc(detail::micros_of(outcome->charged));
    if (outcome->charged < hold) m_->refunded_->inc(detail::micros_of(hold - outcome->charged));
  }

 private:
  static void locked(route_metrics& m, int (*status_for)(ledger_errc), const result<lock_grant>& grant) noexcept {
    if (grant) m.locked_->inc(detail::micros_of(grant->amount));
    else m.answered(status_for(grant.error().code));
  }
  static clock::time_point& lock_started() noexcept {
    thread_local clock::time_point t{};
    return t;
  }
  template <class Call>
  result<settlement> timed(metrics::histogram& h, clock::time_point started, Call&& call) {
    try {
      auto outcome = call();
      if (started != clock::time_point{}) h.observe(clock::now() - started);
      if (!outcome) m_->settle_failures_->inc();
      return outcome;
    } catch (...) {
      if (started != clock::time_point{}) h.observe(clock::now() - started);
      m_->settle_failures_->inc();
      throw;
    }
  }
  ledger_ref inner_;
  route_metrics* m_;  // kept by the registry
  int (*status_for_)(ledger_errc);
  std::uint32_t time_one_in_;
};

/// What one charge settles through on the blocking path when its route is observed: the route's
/// observed ledger, plus the hold, so the refund (hold minus charge) is counted exactly. It lives in
/// the charge, next to the settlement_guard that borrows it.
class charge_meter {
 public:
  using ledger_concept = ledger_t;

  charge_meter(observed_ledger* route, credits hold) noexcept : route_(route), hold_(hold) {}

  /// The next settle's timing starts at `at`, a clock read the caller made anyway.
  void start_settle(std::chrono::steady_clock::time_point at) noexcept { settle_from_ = at; }

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) { return route_->lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits cost) {
    auto outcome = route_->settle(lock_id, cost, std::exchange(settle_from_, {}));
    route_->settled(outcome, hold_);
    return outcome;
  }
  result<settlement> release(std::string_view lock_id) {
    auto outcome = route_->release(lock_id, std::exchange(settle_from_, {}));
    route_->settled(outcome, hold_);
    return outcome;
  }
  [[nodiscard]] bool health() { return route_->health(); }

 private:
  observed_ledger* route_;
  credits hold_;
  std::chrono::steady_clock::time_point settle_from_{};
};

/// The registry a metered route reports to when its own config names none: set it once at
/// startup to turn metrics on for every route ("globally"). Null (the default): off.
inline std::atomic<registry*>& global_registry() noexcept {
  static std::atomic<registry*> r{nullptr};
  return r;
}

/// The observed ledger for a route, or null when metrics are off for it.
template <class Ledger>
std::unique_ptr<observed_ledger> observe_route(registry* r, std::string_view route, Ledger& ledger, int (*status_for)(ledger_errc),
                                               std::uint32_t time_one_in) {
  if (r == nullptr) r = global_registry().load(std::memory_order_acquire);
  if (r == nullptr) return nullptr;
  auto m = std::make_shared<route_metrics>(*r, route.empty() ? "unnamed" : route, ledger_kind(ledger));
  r->keep(m);
  return std::make_unique<observed_ledger>(ledger_ref(ledger), m.get(), status_for, time_one_in);
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_METERING_METRICS_HPP
