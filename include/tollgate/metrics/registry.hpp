// SPDX-License-Identifier: MIT
// metrics::registry: the families a program exports, registered once, rendered at each scrape.
#ifndef TOLLGATE_METRICS_REGISTRY_HPP
#define TOLLGATE_METRICS_REGISTRY_HPP

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/metrics/callback_gauge.hpp>
#include <tollgate/metrics/counter.hpp>
#include <tollgate/metrics/family.hpp>
#include <tollgate/metrics/gauge.hpp>
#include <tollgate/metrics/histogram.hpp>

namespace tollgate::metrics {

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;
using callback_gauge_family = family<callback_gauge>;

/// The metrics a program exports. Registering a name again returns the same family (so every
/// metered route shares `tollgate_requests_total`); registering it with another type or other label
/// names throws. Families live as long as the registry; references to them and their children stay
/// valid. Registration and scrapes take a lock; updating a metric never does.
///
///     tollgate::metrics::registry registry;
///     auto& hits = registry.counter("app_cache_hits_total", "Cache hits.").with({});
///     std::string text = tollgate::metrics::render(registry);  // the text format 0.0.4
///
/// Labels are for small fixed sets (route, outcome, reason). Never a user id, credential or tenant
/// id: each distinct value is a time series kept forever, and a label is visible to whoever scrapes.
class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter_family& counter(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels = {}) {
    return add<metrics::counter>(name, help, labels, {});
  }
  gauge_family& gauge(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels = {}) {
    return add<metrics::gauge>(name, help, labels, {});
  }
  histogram_family& histogram(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels,
                              histogram::options buckets) {
    auto& f = add<metrics::histogram>(name, help, labels, buckets);
    if (f.metric_options().bounds != buckets.bounds)
      throw std::logic_error((std::string("tollgate::metrics: registered again with other buckets: ") += name));
    return f;
  }
  callback_gauge_family& callback_gauge(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels = {}) {
    return add<metrics::callback_gauge>(name, help, labels, {});
  }

  /// Registers (or rebinds) the child of a callback gauge: `read()` is called at each scrape.
  void watch(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels,
             std::vector<std::string> values, std::function<double()> read) {
    callback_gauge(name, help, labels).with(std::move(values), [&](metrics::callback_gauge& g) { g.bind(std::move(read)); });
  }

  /// Keeps `object` alive as long as the registry: what reports into it from answers that may
  /// come late (a metered route's cached children). Called at setup, once per route.
  void keep(std::shared_ptr<const void> object) {
    std::lock_guard guard(mutex_);
    kept_.push_back(std::move(object));
  }

  /// Calls `visit(const family_base&)` for each family, in registration order, under the lock.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::lock_guard guard(mutex_);
    for (const auto& f : families_) visit(*f);
  }

 private:
  template <class Metric>
  family<Metric>& add(std::string_view name, std::string_view help, std::initializer_list<std::string_view> labels,
                      typename Metric::options o) {
    std::vector<std::string> label_names(labels.begin(), labels.end());
    std::lock_guard guard(mutex_);
    for (const auto& f : families_) {
      if (f->name() != name) continue;
      auto* same = dynamic_cast<family<Metric>*>(f.get());
      if (!same || same->label_names() != label_names)
        throw std::logic_error((std::string("tollgate::metrics: registered already with another type or other labels: ") += name));
      return *same;
    }
    auto made = std::make_unique<family<Metric>>(std::string(name), std::string(help), std::move(label_names), std::move(o));
    auto& out = *made;
    families_.push_back(std::move(made));
    return out;
  }

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<family_base>> families_;
  std::vector<std::shared_ptr<const void>> kept_;
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_REGISTRY_HPP
