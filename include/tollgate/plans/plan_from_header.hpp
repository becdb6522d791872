// SPDX-License-Identifier: MIT
// plan_from_header<"x-plan-type">: the plan is whatever a request header says (the contract's resolver).
#ifndef TOLLGATE_PLANS_PLAN_FROM_HEADER_HPP
#define TOLLGATE_PLANS_PLAN_FROM_HEADER_HPP

#include <optional>
#include <string>
#include <string_view>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/plans/plan_resolver.hpp>

namespace tollgate {

namespace detail {
/// Strips HTTP optional whitespace (spaces and tabs) around a header value, as HTTP servers do.
[[nodiscard]] constexpr std::string_view strip_http_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace detail

/// Reads the plan from header `Name` (name case-insensitive, value case-sensitive); absent → the
/// default plan. The caller controls that header: use it behind a trusted gateway only, or use
/// cached_plan_lookup to resolve plans server-side.
template <fixed_string Name>
struct plan_from_header {
  [[nodiscard]] plan_resolution resolve(const request_ref& r, std::optional<std::string_view> /*tenant*/) const {
    auto value = r.header(Name.view());
    if (!value) return plan_resolution::use_default();
    return plan_resolution::named(std::string(detail::strip_http_ows(*value)), Name.view());
  }
};
static_assert(plan_resolver<plan_from_header<"x-plan-type">>);

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_FROM_HEADER_HPP
