// SPDX-License-Identifier: MIT
// metrics::callback_gauge: a gauge whose value is asked for at scrape time (outbox depth, breaker state).
#ifndef TOLLGATE_METRICS_CALLBACK_GAUGE_HPP
#define TOLLGATE_METRICS_CALLBACK_GAUGE_HPP

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// A gauge that costs nothing between scrapes: the callback runs once per scrape, on the scraping
/// thread. What it reads must outlive the registry (or the registry must stop being scraped first).
/// A callback that throws is skipped for that scrape, so one broken gauge never hides the others.
class callback_gauge {
 public:
  struct options {};
  static constexpr std::string_view type_name = "gauge";

  explicit callback_gauge(const options&) {}

  void bind(std::function<double()> read) { read_ = std::move(read); }

  void write_samples(std::string& out, std::string_view name, std::string_view labels) const {
    if (!read_) return;
    double v = 0;
    try {
      v = read_();
    } catch (...) {
      return;
    }
    write_sample(out, name, "", labels, v);
  }

 private:
  std::function<double()> read_;
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_CALLBACK_GAUGE_HPP
