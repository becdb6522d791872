// SPDX-License-Identifier: MIT
// metrics::gauge: an integer that goes up and down (requests in flight), one relaxed atomic per update.
#ifndef TOLLGATE_METRICS_GAUGE_HPP
#define TOLLGATE_METRICS_GAUGE_HPP

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// A gauge set or moved by the program. For a value read from somewhere else at scrape time (an
/// outbox's depth, a breaker's state) register a `callback_gauge` instead: nothing to keep in sync.
class alignas(64) gauge {
 public:
  struct options {};
  static constexpr std::string_view type_name = "gauge";

  gauge() = default;
  explicit gauge(const options&) noexcept {}

  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  void write_samples(std::string& out, std::string_view name, std::string_view labels) const {
    write_sample(out, name, "", labels, value());
  }

 private:
  std::atomic<std::int64_t> value_{0};
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_GAUGE_HPP
