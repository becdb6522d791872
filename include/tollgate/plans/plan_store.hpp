// SPDX-License-Identifier: MIT
// plan_store<Table>: each tenant's plan and custom limits in memory, written by billing webhooks, read as a plan resolver.
#ifndef TOLLGATE_PLANS_PLAN_STORE_HPP
#define TOLLGATE_PLANS_PLAN_STORE_HPP

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/http/request.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/lookup_result.hpp>
#include <tollgate/plans/plan_resolver.hpp>
#include <tollgate/plans/tenant_overrides.hpp>

namespace tollgate {

/// A tenant's plan by name and the limits that replace that plan's (limit name → maximum).
struct plan_assignment {
  std::string plan{};
  std::vector<std::pair<std::string, limit_value>> overrides{};
};

/// Thread-safe tenant → (plan, overrides) in memory. It is a `plan_resolver` itself, and its
/// `plan_of` is the callable `cached_plan_lookup` wants; its overrides are a `tenant_overrides<Table>`
/// to hand to `limits_endpoint`. `assign` checks the plan and every limit name against `Table`
/// before changing anything. A reader racing an `assign` may, for that one request, see the new
/// overrides with the old plan: each of the two is replaced in one step, not both together.
///
///     auto store = std::make_shared<tollgate::plan_store<tollgate::default_plans>>();
///     store->assign("org-42", {"growth", {{"deployments", 8}}});
///     tollgate::billing::limits_endpoint<tollgate::default_plans, tollgate::cached_plan_lookup> endpoint{
///         options, tollgate::cached_plan_lookup{[store](std::string_view t) { return store->plan_of(t); }},
///         store->overrides()};
template <class Table>
class plan_store {
 public:
  /// What `resolve` answers for a tenant the store does not know.
  enum class unknown_tenants {
    not_found,     ///< 404 "Tenant not found" from the endpoint
    default_plan,  ///< the table's default plan
  };
  /// What an accepted `assign` did.
  enum class outcome {
    changed,   ///< the tenant's plan and overrides are now the given ones
    outdated,  ///< a change dated later than `as_of` is already applied: nothing changed
  };

  explicit plan_store(unknown_tenants unknown = unknown_tenants::not_found)
      : unknown_(unknown), overrides_(std::make_shared<tenant_overrides<Table>>()) {}

  /// Sets tenant's plan and replaces all its overrides. `as_of` (e.g. the billing event's creation
  /// time, in any fixed unit) orders changes that arrive out of order: an older one is ignored.
  /// Fails, changing nothing, when the plan or a limit name is not in `Table`.
  lookup_result<outcome> assign(std::string tenant, const plan_assignment& assignment, std::optional<std::int64_t> as_of = std::nullopt) {
    if (auto why = refusal(assignment)) return lookup_result<outcome>::failure(std::move(*why));
    std::unique_lock lock(mutex_);
    auto it = by_tenant_.find(tenant);
    if (it != by_tenant_.end() && as_of && it->second.as_of && *as_of < *it->second.as_of)
      return lookup_result<outcome>::success(outcome::outdated);
    auto replaced = overrides_->replace(tenant, assignment.overrides);
    if (!replaced) return lookup_result<outcome>::failure(replaced.error());  // unreachable: names checked above
    if (it == by_tenant_.end()) it = by_tenant_.emplace(std::move(tenant), entry{}).first;
    it->second.assignment = assignment;
    if (as_of) it->second.as_of = as_of;
    return lookup_result<outcome>::success(outcome::changed);
  }

  /// Why `assign` would refuse `assignment` (an unknown plan or limit name), std::nullopt if it would not.
  [[nodiscard]] static std::optional<std::string> refusal(const plan_assignment& assignment) {
    if (auto plan = Table::lookup(assignment.plan); !plan) return plan.error();
    for (const auto& entry : assignment.overrides) {
      bool known = false;
      for (auto name : Table::limit_names) known = known || name == entry.first;
      if (known) continue;
      std::string names;
      for (std::size_t i = 0; i < Table::limit_count; ++i) {
        if (i > 0) names += (i + 1 == Table::limit_count) ? " or " : ", ";
        names += '\'';
        names += Table::limit_names[i];
        names += '\'';
      }
      return "unknown limit '" + entry.first + "': expected " + names;
    }
    return std::nullopt;
  }

  /// Tenant's plan name, std::nullopt when unknown: the callable for `cached_plan_lookup`.
  [[nodiscard]] std::optional<std::string> plan_of(std::string_view tenant) const {
    std::shared_lock lock(mutex_);
    auto it = by_tenant_.find(tenant);
    if (it == by_tenant_.end()) return std::nullopt;
    return it->second.assignment.plan;
  }
  /// Tenant's plan and overrides, std::nullopt when unknown.
  [[nodiscard]] std::optional<plan_assignment> assignment_of(std::string_view tenant) const {
    std::shared_lock lock(mutex_);
    auto it = by_tenant_.find(tenant);
    if (it == by_tenant_.end()) return std::nullopt;
    return it->second.assignment;
  }
  /// Forgets tenant (plan and overrides).
  void erase(std::string_view tenant) {
    std::unique_lock lock(mutex_);
    if (auto it = by_tenant_.find(tenant); it != by_tenant_.end()) by_tenant_.erase(it);
    overrides_->erase(tenant);
  }
  [[nodiscard]] std::size_t size() const {
    std::shared_lock lock(mutex_);
    return by_tenant_.size();
  }

  /// The overrides, kept in step by `assign`: pass them to `limits_endpoint`.
  [[nodiscard]] std::shared_ptr<const tenant_overrides<Table>> overrides() const noexcept { return overrides_; }

  /// The `plan_resolver` interface: the tenant's stored plan.
  [[nodiscard]] plan_resolution resolve(const request_ref& /*request*/, std::optional<std::string_view> tenant) const {
    if (!tenant) return plan_resolution::needs_tenant();
    if (auto plan = plan_of(*tenant)) return plan_resolution::named(std::move(*plan));
    return unknown_ == unknown_tenants::default_plan ? plan_resolution::use_default() : plan_resolution::no_such_tenant();
  }

 private:
  struct entry {
    plan_assignment assignment{};
    std::optional<std::int64_t> as_of{};
  };

  unknown_tenants unknown_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, entry, std::less<>> by_tenant_;
  std::shared_ptr<tenant_overrides<Table>> overrides_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_STORE_HPP
