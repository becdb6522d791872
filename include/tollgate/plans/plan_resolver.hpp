// SPDX-License-Identifier: MIT
// The plan_resolver concept: how the endpoint learns a tenant's plan (a header, a database, ...).
#ifndef TOLLGATE_PLANS_PLAN_RESOLVER_HPP
#define TOLLGATE_PLANS_PLAN_RESOLVER_HPP

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/http/request.hpp>

namespace tollgate {

/// What a resolver found for one request. The plan name is checked against the table by the caller.
struct plan_resolution {
  enum class kind {
    plan,            ///< `plan` names the tenant's plan
    default_plan,    ///< nothing says otherwise: the table's default plan
    not_applicable,  ///< the resolver needs a tenant id and the request has none (the 422 says so)
    unknown_tenant,  ///< the resolver does not know this tenant
    failed,          ///< the lookup failed (database down ...): `message` says why, for the log only
  };

  kind outcome = kind::default_plan;
  /// kind::plan: the plan's name as found, not yet checked against the table.
  std::string plan;
  /// Non-empty when `plan` came from this request header: an unknown name is then the caller's
  /// mistake (422), not the server's (500).
  std::string_view header;
  /// kind::failed: why, for the log.
  std::string message;

  [[nodiscard]] static plan_resolution named(std::string plan, std::string_view from_header = {}) {
    return {kind::plan, std::move(plan), from_header, {}};
  }
  [[nodiscard]] static plan_resolution use_default() { return {kind::default_plan, {}, {}, {}}; }
  [[nodiscard]] static plan_resolution needs_tenant() { return {kind::not_applicable, {}, {}, {}}; }
  [[nodiscard]] static plan_resolution no_such_tenant() { return {kind::unknown_tenant, {}, {}, {}}; }
  [[nodiscard]] static plan_resolution failure(std::string why) { return {kind::failed, {}, {}, std::move(why)}; }
};

/// A tenant→plan resolver. Requirements, for `const R& r`, `const request_ref& req` and
/// `std::optional<std::string_view> tenant` (std::nullopt when the request names no tenant):
///   1. `r.resolve(req, tenant)` → `plan_resolution`;
///   2. it is safe to call from several threads at once.
/// Provided: `plan_from_header<"x-plan-type">` (the contract's) and `cached_plan_lookup` (your callable,
/// e.g. a database query, behind a TTL cache).
template <class R>
concept plan_resolver = requires(const R& r, const request_ref& req, std::optional<std::string_view> tenant) {
  { r.resolve(req, tenant) } -> std::same_as<plan_resolution>;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_RESOLVER_HPP
