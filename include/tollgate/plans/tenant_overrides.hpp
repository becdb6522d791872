// SPDX-License-Identifier: MIT
// tenant_overrides<Table>: per-tenant maxima that replace individual limits of the tenant's plan.
#ifndef TOLLGATE_PLANS_TENANT_OVERRIDES_HPP
#define TOLLGATE_PLANS_TENANT_OVERRIDES_HPP

#include <cstddef>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/lookup_result.hpp>
#include <tollgate/plans/plan.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_table.hpp>

namespace tollgate {

/// Custom limits for some tenants over their plan's defaults (a contract's extra seats, say).
/// Thread-safe: requests read while an admin task or a billing webhook writes.
///
///     tollgate::tenant_overrides<tollgate::default_plans> overrides;
///     overrides.set<"deployments">("org-42", 3);          // limit name checked at compile time
///     auto limits = overrides.apply("org-42", *tollgate::default_plans::find("free"));   // deployments: 3
template <class Table>
class tenant_overrides {
 public:
  /// Sets tenant's maximum of `Limit`, a name checked at compile time.
  template <fixed_string Limit>
  void set(std::string tenant, limit_value max) {
    if constexpr (!detail::is_accepted_table<Table>) {
      return;  // the table was refused and said why: its names prove nothing about `Limit`
    } else if constexpr (!Table::template has_limit<Limit>) {
      static_assert(Table::template has_limit<Limit>, "tollgate: unknown limit name: the plan_table declares no limit of that name");
    } else {
      store(std::move(tenant), detail::find_name(Table::limit_names, Limit.view()), max);
    }
  }
  /// Sets tenant's maximum of limit `limit` (a run-time name, e.g. from a database); an error names
  /// the known limits when `limit` is not one of them.
  lookup_result<limit_value> set(std::string tenant, std::string_view limit, limit_value max) {
    const auto i = detail::find_name(Table::limit_names, limit);
    if (i == detail::no_index) return lookup_result<limit_value>::failure("unknown limit '" + std::string(limit) + "': expected " + known_limits());
    store(std::move(tenant), i, max);
    return lookup_result<limit_value>::success(max);
  }

  /// Replaces all of tenant's overrides by `overrides` (limit name → maximum) in one step, so a
  /// reader sees the old set or the new one, never a mix; none is changed when a name is unknown.
  /// An empty list drops the tenant's overrides (a plan change that brings no custom limits).
  lookup_result<std::size_t> replace(std::string tenant, const std::vector<std::pair<std::string, limit_value>>& overrides) {
    std::map<std::size_t, limit_value> fresh;
    for (const auto& [limit, max] : overrides) {
      const auto i = detail::find_name(Table::limit_names, limit);
      if (i == detail::no_index) return lookup_result<std::size_t>::failure("unknown limit '" + limit + "': expected " + known_limits());
      fresh[i] = max;
    }
    const std::size_t count = fresh.size();
    std::unique_lock lock(mutex_);
    if (fresh.empty()) {
      if (auto it = by_tenant_.find(tenant); it != by_tenant_.end()) by_tenant_.erase(it);
    } else {
      by_tenant_.insert_or_assign(std::move(tenant), std::move(fresh));
    }
    return lookup_result<std::size_t>::success(count);
  }

  /// Drops tenant's override of `limit`; true when there was one.
  bool erase(std::string_view tenant, std::string_view limit) {
    std::unique_lock lock(mutex_);
    auto it = by_tenant_.find(tenant);
    if (it == by_tenant_.end()) return false;
    const bool erased = it->second.erase(detail::find_name(Table::limit_names, limit)) > 0;
    if (it->second.empty()) by_tenant_.erase(it);
    return erased;
  }
  /// Drops every override of tenant.
  void erase(std::string_view tenant) {
    std::unique_lock lock(mutex_);
    if (auto it = by_tenant_.find(tenant); it != by_tenant_.end()) by_tenant_.erase(it);
  }

  /// `limits` (tenant's plan limits) with tenant's overrides applied.
  [[nodiscard]] plan_limits apply(std::string_view tenant, plan_limits limits) const {
    std::shared_lock lock(mutex_);
    auto it = by_tenant_.find(tenant);
    if (it == by_tenant_.end()) return limits;
    for (const auto& [index, max] : it->second) limits.set(Table::limit_names[index], max);
    return limits;
  }

 private:
  void store(std::string tenant, std::size_t index, limit_value max) {
    std::unique_lock lock(mutex_);
    by_tenant_[std::move(tenant)][index] = max;
  }
  static std::string known_limits() {
    std::string out;
    for (std::size_t i = 0; i < Table::limit_count; ++i) {
      if (i > 0) out += (i + 1 == Table::limit_count) ? " or " : ", ";
      out += '\'';
      out += Table::limit_names[i];
      out += '\'';
    }
    return out;
  }

  mutable std::shared_mutex mutex_;
  std::map<std::string, std::map<std::size_t, limit_value>, std::less<>> by_tenant_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_TENANT_OVERRIDES_HPP
