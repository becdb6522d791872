// SPDX-License-Identifier: MIT
// check_limit: may a tenant use `requested` more of a limit, given its current usage? With what remains.
#ifndef TOLLGATE_PLANS_LIMIT_CHECK_HPP
#define TOLLGATE_PLANS_LIMIT_CHECK_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/lookup_result.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_table.hpp>

namespace tollgate {

/// The answer of a limit check.
struct limit_decision {
  /// True when `usage + requested` stays within the maximum (always, when unlimited).
  bool allowed = false;
  /// The maximum that was applied.
  limit_value max;
  /// The usage the check was given.
  std::int64_t usage = 0;
  /// Headroom before this request: `max - usage`, floored at 0; std::nullopt when unlimited.
  std::optional<std::int64_t> remaining;

  explicit operator bool() const noexcept { return allowed; }
  friend bool operator==(const limit_decision&, const limit_decision&) = default;
};

/// Checks `requested` more units against `max` at `usage`. Negative usage counts as 0.
///
///     check_limit(1, /*usage=*/1)   // free plan, one deployment already: {allowed=false, remaining=0}
[[nodiscard]] constexpr limit_decision check_limit(limit_value max, std::int64_t usage, std::int64_t requested = 1) noexcept {
  if (usage < 0) usage = 0;
  if (requested < 0) requested = 0;
  if (max.is_unlimited()) return {true, max, usage, std::nullopt};
  const std::int64_t remaining = usage >= max.max() ? 0 : max.max() - usage;
  return {requested <= remaining, max, usage, remaining};
}

/// Checks limit `limit` of `limits` (a tenant's plan, overrides applied); an error when the plan has
/// no such limit.
[[nodiscard]] inline lookup_result<limit_decision> check_limit(const plan_limits& limits, std::string_view limit,
                                                               std::int64_t usage, std::int64_t requested = 1) {
  const auto max = limits.find(limit);
  if (!max)
    return lookup_result<limit_decision>::failure("unknown limit '" + std::string(limit) + "' in plan '" +
                                                  std::string(limits.plan()) + "'");
  return lookup_result<limit_decision>::success(check_limit(*max, usage, requested));
}

/// The same with the limit named at compile time and checked against `Table`:
/// `check_limit<default_plans, "deployments">(limits, usage)`.
template <class Table, fixed_string Limit>
[[nodiscard]] limit_decision check_limit(const plan_limits& limits, std::int64_t usage, std::int64_t requested = 1) {
  if constexpr (!detail::is_accepted_table<Table>) {
    // The table was refused and said why: its names prove nothing about `Limit`. Zero grants nothing.
    return check_limit(limit_value(0), usage, requested);
  } else if constexpr (!Table::template has_limit<Limit>) {
    static_assert(Table::template has_limit<Limit>, "tollgate: unknown limit name: the plan_table declares no limit of that name");
    return check_limit(limit_value(0), usage, requested);
  } else {
    return check_limit(limits.find(Limit.view()).value_or(limit_value(0)), usage, requested);
  }
}

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_LIMIT_CHECK_HPP
