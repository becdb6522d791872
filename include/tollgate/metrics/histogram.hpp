// SPDX-License-Identifier: MIT
// metrics::histogram: fixed buckets chosen at registration; an observation is two relaxed atomic adds.
#ifndef TOLLGATE_METRICS_HISTOGRAM_HPP
#define TOLLGATE_METRICS_HISTOGRAM_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// A histogram of integer observations (nanoseconds, bytes) with fixed upper bounds. Observing
/// finds the bucket and adds to it and to the sum: two relaxed atomic adds, no lock, no allocation.
/// Buckets are stored per bucket and made cumulative when rendered; the count is their total, so
/// `_count` always equals the `+Inf` bucket. Values render divided by `scale` (1e9 for nanoseconds
/// exposed as seconds, the Prometheus base unit).
class histogram {
 public:
  struct options {
    std::vector<std::int64_t> bounds{};  ///< strictly increasing upper bounds, in observation units
    double scale = 1;                    ///< what one exposed unit is in observation units
  };
  static constexpr std::string_view type_name = "histogram";

  /// Latency buckets from 100 µs to 10 s, in nanoseconds, exposed as seconds.
  [[nodiscard]] static options latency_seconds() {
    using namespace std::chrono;
    std::vector<std::int64_t> b;
    for (const std::int64_t us : {100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000,
                                  1'000'000, 2'500'000, 5'000'000, 10'000'000})
      b.push_back(duration_cast<nanoseconds>(microseconds(us)).count());
    return options{std::move(b), 1e9};
  }

  explicit histogram(const options& o)
      : bounds_(o.bounds), scale_(o.scale > 0 ? o.scale : 1), buckets_(std::make_unique<slot[]>(o.bounds.size() + 1)) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) || std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
      throw std::invalid_argument("tollgate::metrics::histogram: bucket bounds must be strictly increasing");
  }

  void observe(std::int64_t v) noexcept {
    // The first bound not below v (`le` is "less than or equal"). A scan from the bottom: most
    // observations land in the first buckets, where it stops after a compare or two.
    std::size_t i = 0;
    while (i < bounds_.size() && bounds_[i] < v) ++i;
    buckets_[i].n.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> d) noexcept {
    observe(static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
  }

  [[nodiscard]] std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) total += buckets_[i].n.load(std::memory_order_relaxed);
    return total;
  }
  [[nodiscard]] std::int64_t sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  [[nodiscard]] const std::vector<std::int64_t>& bounds() const noexcept { return bounds_; }

  /// `_bucket{…,le="…"}` cumulative, `+Inf` last, then `_sum` and `_count`.
  void write_samples(std::string& out, std::string_view name, std::string_view labels) const {
    std::uint64_t cumulative = 0;
    std::string with_le;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += buckets_[i].n.load(std::memory_order_relaxed);
      with_le.assign(labels);
      if (!with_le.empty()) with_le += ',';
      with_le += "le=\"";
      if (i < bounds_.size()) append_value(with_le, static_cast<double>(bounds_[i]) / scale_);
      else with_le += "+Inf";
      with_le += '"';
      write_sample(out, name, "_bucket", with_le, cumulative);
    }
    write_sample(out, name, "_sum", labels, static_cast<double>(sum()) / scale_);
    write_sample(out, name, "_count", labels, cumulative);
  }

 private:
  struct slot {
    std::atomic<std::uint64_t> n{0};
  };
  std::vector<std::int64_t> bounds_;
  double scale_;
  std::unique_ptr<slot[]> buckets_;  // one per bound, and one for +Inf
  std::atomic<std::int64_t> sum_{0};
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_HISTOGRAM_HPP
