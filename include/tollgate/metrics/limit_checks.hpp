// SPDX-License-Identifier: MIT
// metrics::limit_checks<Table>: plan limit checks counted by plan, limit and outcome.
#ifndef TOLLGATE_METRICS_LIMIT_CHECKS_HPP
#define TOLLGATE_METRICS_LIMIT_CHECKS_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tollgate/metrics/registry.hpp>
#include <tollgate/plans/limit_check.hpp>
#include <tollgate/plans/plan_limits.hpp>

namespace tollgate::metrics {

/// `tollgate_plan_limit_checks_total{plan, limit, outcome}`, outcome "allowed", "refused" or
/// "unknown_limit". The plan and limit labels come from `Table`'s names only (a name the table
/// does not declare counts as "other"), so a request can never add a time series; every child is
/// made at construction. Checking costs a short scan of the table's names and one atomic add.
///
///     tollgate::metrics::limit_checks<tollgate::default_plans> checks{registry};
///     auto decision = checks.check(limits, "deployments", usage);   // check_limit, counted
template <class Table>
class limit_checks {
 public:
  static constexpr std::array<std::string_view, 3> outcomes{"allowed", "refused", "unknown_limit"};

  explicit limit_checks(registry& r) {
    auto& family = r.counter("tollgate_plan_limit_checks_total", "Plan limit checks by plan, limit and outcome.",
                             {"plan", "limit", "outcome"});
    for (std::size_t p = 0; p <= Table::plan_count; ++p)
      for (std::size_t l = 0; l <= Table::limit_count; ++l)
        for (std::size_t o = 0; o < outcomes.size(); ++o)
          children_[p][l][o] = &family.with({p < Table::plan_count ? Table::plan_names[p] : "other",
                                             l < Table::limit_count ? Table::limit_names[l] : "other", outcomes[o]});
  }

  /// Counts one decision of `limit` in `plan`.
  void record(std::string_view plan, std::string_view limit, const limit_decision& d) noexcept { record(plan, limit, d.allowed); }
  /// The same, for a decision made elsewhere (limited<>'s atomic acquisition).
  void record(std::string_view plan, std::string_view limit, bool allowed) noexcept {
    children_[plan_index(plan)][limit_index(limit)][allowed ? 0 : 1]->inc();
  }

  /// `check_limit(limits, limit, usage, requested)`, counted.
  [[nodiscard]] lookup_result<limit_decision> check(const plan_limits& limits, std::string_view limit, std::int64_t usage,
                                                    std::int64_t requested = 1) noexcept(false) {
    auto decision = check_limit(limits, limit, usage, requested);
    if (decision) record(limits.plan(), limit, *decision);
    else children_[plan_index(limits.plan())][limit_index(limit)][2]->inc();
    return decision;
  }

 private:
  static std::size_t plan_index(std::string_view plan) noexcept {
    for (std::size_t i = 0; i < Table::plan_count; ++i)
      if (Table::plan_names[i] == plan) return i;
    return Table::plan_count;
  }
  static std::size_t limit_index(std::string_view limit) noexcept {
    for (std::size_t i = 0; i < Table::limit_count; ++i)
      if (Table::limit_names[i] == limit) return i;
    return Table::limit_count;
  }

  std::array<std::array<std::array<counter*, 3>, Table::limit_count + 1>, Table::plan_count + 1> children_{};
};

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_LIMIT_CHECKS_HPP
