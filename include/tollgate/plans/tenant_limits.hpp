// SPDX-License-Identifier: MIT
// tenant_limits<Table, Resolver>: a tenant's limits in force for one request (its plan, overrides applied).
#ifndef TOLLGATE_PLANS_TENANT_LIMITS_HPP
#define TOLLGATE_PLANS_TENANT_LIMITS_HPP

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/http/request.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_from_header.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_resolver.hpp>
#include <tollgate/plans/tenant_overrides.hpp>

namespace tollgate {

/// What tenant_limits found: the limits, or the status and words to refuse the request with.
struct tenant_limits_answer {
  std::optional<plan_limits> limits;
  int status = 200;     ///< when `limits` is empty: 422 (the caller named an unknown plan), 404, 503 or 500
  std::string detail;   ///< when `limits` is empty: the `detail` of the refusal
};

/// A tenant's effective limits: the plan `Resolver` names for the request, looked up in `Table`,
/// with the tenant's overrides applied. What `limited` checks usage against. Thread-safe.
/// The default resolver trusts the caller's x-plan-type header (the contract's): to enforce limits,
/// give it a server-side resolver such as cached_plan_lookup.
///
///     tollgate::tenant_limits<> limits;   // default_plans, plan from the x-plan-type header
///     auto answer = limits.resolve(request, "org-1");
template <class Table = default_plans, plan_resolver Resolver = plan_from_header<"x-plan-type">>
class tenant_limits {
 public:
  using table = Table;

  explicit tenant_limits(Resolver resolver = Resolver{}, std::shared_ptr<const tenant_overrides<Table>> overrides = nullptr)
      : resolver_(std::move(resolver)), overrides_(std::move(overrides)) {}

  [[nodiscard]] tenant_limits_answer resolve(const request_ref& request, std::string_view tenant) const {
    const plan_resolution found = resolver_.resolve(request, tenant);
    std::optional<plan_limits> limits;
    switch (found.outcome) {
      case plan_resolution::kind::plan:
        limits = Table::find(found.plan);
        if (!limits && !found.header.empty())
          return {std::nullopt, 422, "Unknown plan in header " + std::string(found.header) + ": expected " + Table::expected_names()};
        if (!limits) return {std::nullopt, 500, "Server configuration error: unknown plan"};
        break;
      case plan_resolution::kind::default_plan: limits = Table::default_limits(); break;
      case plan_resolution::kind::not_applicable: return {std::nullopt, 500, "Server configuration error: no tenant for the plan lookup"};
      case plan_resolution::kind::unknown_tenant: return {std::nullopt, 404, "Tenant not found"};
      case plan_resolution::kind::failed: return {std::nullopt, 503, "Plan lookup failed"};
    }
    if (overrides_) limits = overrides_->apply(tenant, std::move(*limits));
    return {std::move(limits), 200, {}};
  }

 private:
  Resolver resolver_;
  std::shared_ptr<const tenant_overrides<Table>> overrides_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_TENANT_LIMITS_HPP
