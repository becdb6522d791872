// SPDX-License-Identifier: MIT
// soft_limit<"deployments", 5, overage_price<2.0_cr>, hard<10>>: a limit that may be passed, each unit over it charged.
#ifndef TOLLGATE_PLANS_SOFT_LIMIT_HPP
#define TOLLGATE_PLANS_SOFT_LIMIT_HPP

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <tollgate/credits.hpp>
#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/plans/limit.hpp>

namespace tollgate {

/// The price of each unit used above a soft limit, charged through the credit ledger.
template <credits Price>
struct overage_price {
  static constexpr credits value = Price;
};

/// The ceiling above a soft limit: no request goes past it, whatever the balance.
template <auto Max>
struct hard {
  static constexpr auto value = Max;
};

namespace detail {
template <class T>
inline constexpr bool is_overage_price = false;
template <credits Price>
inline constexpr bool is_overage_price<overage_price<Price>> = true;

template <class T>
inline constexpr bool is_hard_ceiling = false;
template <auto Max>
inline constexpr bool is_hard_ceiling<hard<Max>> = true;

/// The hard<> among the terms, or hard<unlimited>.
template <class... Terms>
struct ceiling_of {
  static constexpr auto value = unlimited;
};
template <class First, class... Rest>
struct ceiling_of<First, Rest...> : ceiling_of<Rest...> {};
template <auto Max, class... Rest>
struct ceiling_of<hard<Max>, Rest...> {
  static constexpr auto value = Max;
};

/// The overage_price<> among the terms, or zero.
template <class... Terms>
struct price_of {
  static constexpr credits value{};
};
template <class First, class... Rest>
struct price_of<First, Rest...> : price_of<Rest...> {};
template <credits Price, class... Rest>
struct price_of<overage_price<Price>, Rest...> {
  static constexpr credits value = Price;
};

/// Whether hard<Max> sits at or above Soft (unlimited always does).
template <auto Soft, auto Max>
constexpr bool ceiling_reaches() {
  if constexpr (std::same_as<std::remove_cvref_t<decltype(Max)>, unlimited_t>) return true;
  else return static_cast<std::intmax_t>(Max) >= static_cast<std::intmax_t>(Soft);
}

/// soft_limit's rules, in order. Stops at the first broken one and returns false, so its message
/// is the only error.
template <fixed_string Name, auto Soft, class... Terms>
constexpr bool check_soft_limit() {
  constexpr bool only_terms = ((is_overage_price<Terms> || is_hard_ceiling<Terms>) && ...);
  constexpr int prices = (0 + ... + int{is_overage_price<Terms>});
  constexpr int ceilings = (0 + ... + int{is_hard_ceiling<Terms>});
  constexpr bool soft_is_count = std::integral<std::remove_cvref_t<decltype(Soft)>> && !std::same_as<std::remove_cvref_t<decltype(Soft)>, bool>;
  if constexpr (!check_limit<Name, Soft>()) {
    return false;  // the name or the count is refused, and said why
  } else if constexpr (!soft_is_count) {
    static_assert(soft_is_count, "tollgate: a soft limit must be a count (an unlimited limit has nothing to go over)");
    return false;
  } else if constexpr (!only_terms) {
    static_assert(only_terms, "tollgate: soft_limit<Name, N, ...> takes only tollgate::overage_price<...> and tollgate::hard<...> after its count");
    return false;
  } else if constexpr (prices != 1) {
    static_assert(prices == 1, "tollgate: a soft_limit needs exactly one overage_price<...>");
    return false;
  } else if constexpr (ceilings > 1) {
    static_assert(ceilings <= 1, "tollgate: a soft_limit takes at most one hard<...> ceiling");
    return false;
  } else if constexpr (constexpr bool priced = !price_of<Terms...>::value.is_negative(); !priced) {
    static_assert(priced, "tollgate: an overage_price must not be negative");
    return false;
  } else if constexpr (!is_valid_limit_max<ceiling_of<Terms...>::value>) {
    static_assert(is_valid_limit_max<ceiling_of<Terms...>::value>,
                  "tollgate: a hard<...> ceiling must be a non-negative integer (at most INT64_MAX) or tollgate::unlimited");
    return false;
  } else if constexpr (!ceiling_reaches<Soft, ceiling_of<Terms...>::value>()) {
    static_assert(ceiling_reaches<Soft, ceiling_of<Terms...>::value>(), "tollgate: a soft_limit's hard<...> ceiling is below its soft limit");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

/// A limit that requests may pass: up to `Soft` units are included in the plan; each unit above
/// costs `overage_price` (locked before the work and settled after, as `metered` does), up to an
/// optional `hard<>` ceiling (unlimited without one). `limit<>`'s rules apply to the name and count.
///
///     plan<"growth", soft_limit<"deployments", 5, overage_price<2.0_cr>, hard<10>>, limit<"seats", 3>>
template <fixed_string Name, auto Soft, class... Terms>
struct soft_limit {
 private:
  using well_formed = std::bool_constant<detail::check_soft_limit<Name, Soft, Terms...>()>;

 public:
  static constexpr std::string_view name = Name.view();
  /// The soft limit, what GET /billing/limits reports: the units the plan includes.
  static constexpr limit_value max = well_formed::value ? limit_value(static_cast<std::int64_t>(Soft)) : limit_value(0);
  /// What each unit above `max` costs.
  static constexpr credits price = well_formed::value ? detail::price_of<Terms...>::value : credits{};
  /// The ceiling no request passes (unlimited without `hard<>`).
  static constexpr limit_value ceiling = [] {
    if constexpr (!well_formed::value) return limit_value(0);
    else if constexpr (std::same_as<std::remove_cvref_t<decltype(detail::ceiling_of<Terms...>::value)>, unlimited_t>) return limit_value(unlimited);
    else return limit_value(static_cast<std::int64_t>(detail::ceiling_of<Terms...>::value));
  }();
};

namespace detail {
template <fixed_string Name, auto Soft, class... Terms>
inline constexpr bool is_limit<soft_limit<Name, Soft, Terms...>> = true;
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_SOFT_LIMIT_HPP
