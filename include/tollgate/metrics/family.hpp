// SPDX-License-Identifier: MIT
// metrics::family: one metric name with fixed label names; each label combination is a child made once.
#ifndef TOLLGATE_METRICS_FAMILY_HPP
#define TOLLGATE_METRICS_FAMILY_HPP

#include <cstddef>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// What the registry knows of every family: its name, help, type and how to render its samples.
class family_base {
 public:
  family_base(std::string name, std::string help, std::string_view type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
    if (!is_metric_name(name_)) throw std::invalid_argument(std::string("tollgate::metrics: not a valid metric name: ") += name_);
    for (const auto& l : label_names_)
      if (!is_label_name(l) || (type_ == "histogram" && l == "le"))
        throw std::invalid_argument((std::string("tollgate::metrics: not a valid label name for ") += name_) += ": " + l);
  }
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;
  virtual ~family_base() = default;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const std::string& help() const noexcept { return help_; }
  [[nodiscard]] std::string_view type() const noexcept { return type_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  /// Appends the samples of every child (no HELP/TYPE lines).
  virtual void write_samples(std::string& out) const = 0;

 protected:
  // `a="x",b="y"`, rendered once when the child is made, so a scrape formats no label.
  [[nodiscard]] std::string render_labels(const std::vector<std::string>& values) const {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out += ',';
      out += label_names_[i];
      out += "=\"";
      append_label_value(out, values[i]);
      out += '"';
    }
    return out;
  }

 private:
  std::string name_;
  std::string help_;
  std::string_view type_;
  std::vector<std::string> label_names_;
};

/// The children of one metric name, one per label combination. `with(values)` finds or makes a
/// child: call it at setup and keep the reference (children never move and live as long as the
/// registry), so serving a request formats no label and takes no lock.
///
///     auto& served = registry.counter("app_requests_total", "Requests.", {"route", "outcome"})
///                        .with({"/api/simple", "served"});
///     served.inc();   // per request: one relaxed atomic add
template <class Metric>
class family final : public family_base {
 public:
  using options = typename Metric::options;

  family(std::string name, std::string help, std::vector<std::string> label_names, options o = {})
      : family_base(std::move(name), std::move(help), Metric::type_name, std::move(label_names)), options_(std::move(o)) {}

  /// The child with these label values (in label-name order), made on first use.
  Metric& with(std::initializer_list<std::string_view> values) { return with(std::vector<std::string>(values.begin(), values.end())); }
  Metric& with(std::vector<std::string> values) {
    return with(std::move(values), [](Metric&) {});
  }
  /// The same, running `configure(child)` under the family's lock (a callback gauge binds its reader so).
  template <class Configure>
  Metric& with(std::vector<std::string> values, Configure&& configure) {
    if (values.size() != label_names().size())
      throw std::invalid_argument(std::string("tollgate::metrics: wrong number of label values for ") += name());
    std::lock_guard guard(mutex_);
    for (auto& c : children_) {
      if (c.values == values) {
        configure(c.metric);
        return c.metric;
      }
    }
    std::string labels = render_labels(values);
    auto& c = children_.emplace_back(std::move(values), std::move(labels), options_);
    configure(c.metric);
    return c.metric;
  }

  [[nodiscard]] const options& metric_options() const noexcept { return options_; }

  void write_samples(std::string& out) const override {
    std::lock_guard guard(mutex_);
    for (const auto& c : children_) c.metric.write_samples(out, name(), c.labels);
  }

 private:
  struct child {
    child(std::vector<std::string> v, std::string l, const options& o) : values(std::move(v)), labels(std::move(l)), metric(o) {}
    std::vector<std::string> values;
    std::string labels;
    Metric metric;
  };
  options options_;
  mutable std::mutex mutex_;   // taken when a child is made and when a scrape renders, never per request
  std::deque<child> children_;  // a deque: children stay where they are as more are added
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_FAMILY_HPP
