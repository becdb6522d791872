// SPDX-License-Identifier: MIT
// metering_context: what a metered handler and its cost calculator know about the current charge.
#ifndef TOLLGATE_METERING_CONTEXT_HPP
#define TOLLGATE_METERING_CONTEXT_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metering/usage.hpp>

namespace tollgate {

/// The state of one metered request. A handler that takes it as a third argument can report
/// usage, fix the cost, or waive the charge; calculators read it. Safe to use from the threads a
/// handler hands work to (e.g. a streaming producer).
///
///     [](const httplib::Request&, httplib::Response& res, tollgate::metering_context& ctx) {
///       ctx.report_usage({.prompt_tokens = 120, .completion_tokens = 480});
///       res.set_content("...", "text/plain");
///     }
class metering_context {
 public:
  metering_context(redacted user_id, std::string lock_id, credits estimate)
      : user_id_(std::move(user_id)), lock_id_(std::move(lock_id)), estimate_(estimate) {}

  /// The caller's id as the extractor found it. It may be a credential: it prints redacted.
  [[nodiscard]] const redacted& user_id() const noexcept { return user_id_; }
  [[nodiscard]] const std::string& lock_id() const noexcept { return lock_id_; }
  /// The amount locked for this request: by default the most it can be charged.
  [[nodiscard]] credits estimate() const noexcept { return estimate_; }

  /// Adds to the usage the calculators see (per_token, custom ones).
  void report_usage(const token_usage& usage) {
    std::lock_guard guard(mutex_);
    usage_ += usage;
  }
  [[nodiscard]] token_usage usage() const {
    std::lock_guard guard(mutex_);
    return usage_;
  }

  /// Fixes the charge, bypassing the calculator (still subject to the overage policy).
  void set_cost(credits cost) noexcept {
    cost_override_micros_.store(cost.micros(), std::memory_order_relaxed);
    has_cost_override_.store(true, std::memory_order_release);
  }
  /// Charges nothing for this request (the lock is released in full).
  void waive() noexcept { waived_.store(true, std::memory_order_release); }
  [[nodiscard]] std::optional<credits> cost_override() const noexcept {
    if (!has_cost_override_.load(std::memory_order_acquire)) return std::nullopt;
    return credits::from_micros(cost_override_micros_.load(std::memory_order_relaxed));
  }
  [[nodiscard]] bool waived() const noexcept { return waived_.load(std::memory_order_acquire); }

  /// How long the handler ran (measured by metered with a monotonic clock).
  [[nodiscard]] std::chrono::nanoseconds elapsed() const noexcept { return elapsed_; }
  /// Body bytes the response sent (or, for a stream, delivered).
  [[nodiscard]] std::size_t response_bytes() const noexcept { return response_bytes_; }

  // Set by metered before the calculator runs.
  void record_elapsed(std::chrono::nanoseconds d) noexcept { elapsed_ = d; }
  void record_response_bytes(std::size_t n) noexcept { response_bytes_ = n; }

 private:
  redacted user_id_;
  std::string lock_id_;
  credits estimate_;
  mutable std::mutex mutex_;
  token_usage usage_;
  // Atomics, not the mutex: metered reads both on every request.
  std::atomic<std::int64_t> cost_override_micros_{0};
  std::atomic<bool> has_cost_override_{false};
  std::atomic<bool> waived_{false};
  std::chrono::nanoseconds elapsed_{0};
  std::size_t response_bytes_ = 0;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_CONTEXT_HPP
