// SPDX-License-Identifier: MIT
// metrics::counter: a monotonic integer count, incremented with one relaxed atomic add.
#ifndef TOLLGATE_METRICS_COUNTER_HPP
#define TOLLGATE_METRICS_COUNTER_HPP

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// A counter: only goes up. Integer, so counts of micro-credits stay exact. `inc` is one relaxed
/// atomic add (no lock, no allocation); on its own cache line so two hot counters never share one.
class alignas(64) counter {
 public:
  struct options {};
  static constexpr std::string_view type_name = "counter";

  counter() = default;
  explicit counter(const options&) noexcept {}

  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  /// Appends this counter's sample in the text format.
  void write_samples(std::string& out, std::string_view name, std::string_view labels) const {
    write_sample(out, name, "", labels, value());
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_COUNTER_HPP
