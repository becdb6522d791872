// SPDX-License-Identifier: MIT
// plan<"free", limit<...>...>: a named set of limits, and as_default<> to mark a table's default plan.
#ifndef TOLLGATE_PLANS_PLAN_HPP
#define TOLLGATE_PLANS_PLAN_HPP

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>

#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/soft_limit.hpp>

namespace tollgate {

namespace detail {
inline constexpr std::size_t no_index = static_cast<std::size_t>(-1);

/// Where `name` is in `names`, or no_index.
template <std::size_t N>
[[nodiscard]] constexpr std::size_t find_name(const std::array<std::string_view, N>& names, std::string_view name) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == name) return i;
  return no_index;
}

template <std::size_t N>
[[nodiscard]] constexpr bool all_distinct(const std::array<std::string_view, N>& names) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      if (names[i] == names[j]) return false;
  return true;
}

/// Whether a limit passes limit<>'s rules. Asking runs them, and a broken one prints its message.
template <class Limit>
struct is_sound_limit : std::false_type {};
template <fixed_string Name, auto Max>
struct is_sound_limit<limit<Name, Max>> : std::bool_constant<check_limit<Name, Max>()> {};
template <fixed_string Name, auto Soft, class... Terms>
struct is_sound_limit<soft_limit<Name, Soft, Terms...>> : std::bool_constant<check_soft_limit<Name, Soft, Terms...>()> {};

/// A limit's overage terms: a soft_limit's price and ceiling, std::nullopt for a plain limit.
template <class Limit>
constexpr std::optional<overage_terms> overage_of() noexcept {
  if constexpr (requires { Limit::price; Limit::ceiling; }) return overage_terms{Limit::price, Limit::ceiling};
  else return std::nullopt;
}

/// Stands in for the limits of a refused plan, so code reading the plan adds no second error.
using stand_in_limit = limit<"(not a limit)", 0>;

/// plan<Name, Limits...>'s rules, in order. Stops at the first broken one and returns false, so its
/// message is the only error.
template <fixed_string Name, class... Limits>
constexpr bool check_plan() {
  constexpr bool named = Name.size() > 0;
  if constexpr (!named) {
    static_assert(named, "tollgate: a plan's name must not be empty");
    return false;
  } else if constexpr (!(is_limit<Limits> && ...)) {
    static_assert((is_limit<Limits> && ...),  // clang names the stray argument
                  "tollgate: plan<Name, ...> takes only tollgate::limit<\"name\", max> arguments after its name (or tollgate::soft_limit<...>)");
    return false;
  } else if constexpr (!std::conjunction_v<is_sound_limit<Limits>...>) {
    // The first refused limit said why; conjunction stops there, so the ones after it stay quiet.
    return false;
  } else {
    // Only now are the arguments known to be limits, with names to compare.
    constexpr bool distinct = all_distinct(std::array<std::string_view, sizeof...(Limits)>{Limits::name...});
    if constexpr (!distinct) {
      static_assert(distinct, "tollgate: a plan declares the same limit name twice");
      return false;
    } else {
      return true;
    }
  }
}
}  // namespace detail

/// A plan: a name and its limits, `plan<"free", limit<"deployments", 1>, limit<"self_hosted_workers", 5>>`.
/// Every plan of a table must declare the same limit names (in any order).
template <fixed_string Name, class... Limits>
struct plan {
 private:
  // A type rather than a value, so the rules are checked as soon as the plan is named. A refused
  // plan is still built, from detail::stand_in_limit, so code using it adds no second error.
  using well_formed = std::bool_constant<detail::check_plan<Name, Limits...>()>;
  template <class Limit>
  using limit_or_stand_in = std::conditional_t<well_formed::value, Limit, detail::stand_in_limit>;

 public:
  static constexpr std::string_view name = Name.view();
  static constexpr std::size_t limit_count = sizeof...(Limits);
  /// The limits as Boost.Hana types, for compile-time iteration.
  static constexpr auto limit_types = boost::hana::tuple_t<limit_or_stand_in<Limits>...>;
  static constexpr std::array<std::string_view, sizeof...(Limits)> limit_names{limit_or_stand_in<Limits>::name...};
  static constexpr std::array<limit_value, sizeof...(Limits)> limit_values{limit_or_stand_in<Limits>::max...};
  /// Each limit's overage terms (std::nullopt but for a soft_limit), in `limit_names` order.
  static constexpr std::array<std::optional<overage_terms>, sizeof...(Limits)> limit_overages{
      detail::overage_of<limit_or_stand_in<Limits>>()...};

  /// The maximum of limit `limit_name`; `limit_name` must be one of `limit_names`.
  [[nodiscard]] static constexpr limit_value max_of(std::string_view limit_name) noexcept {
    const auto i = detail::find_name(limit_names, limit_name);
    return i == detail::no_index ? limit_value(0) : limit_values[i];
  }
  /// The overage terms of limit `limit_name` (std::nullopt unless it is a soft_limit).
  [[nodiscard]] static constexpr std::optional<overage_terms> overage_of(std::string_view limit_name) noexcept {
    const auto i = detail::find_name(limit_names, limit_name);
    return i == detail::no_index ? std::nullopt : limit_overages[i];
  }
};

/// Marks the default plan of a `plan_table` (used when a tenant's plan is not given). Without it the
/// first plan is the default: `plan_table<plan<"free", ...>, as_default<plan<"growth", ...>>>`.
template <class Plan>
struct as_default {};

namespace detail {
template <class T>
inline constexpr bool is_plan = false;
template <fixed_string Name, class... Limits>
inline constexpr bool is_plan<plan<Name, Limits...>> = true;

/// Whether a plan passes plan<>'s rules. Asking runs them, and a broken one prints its message.
template <class Plan>
struct is_sound_plan : std::false_type {};
template <fixed_string Name, class... Limits>
struct is_sound_plan<plan<Name, Limits...>> : std::bool_constant<check_plan<Name, Limits...>()> {};

template <class T>
struct unwrap_default { using type = T; static constexpr bool marked = false; };
template <class Plan>
struct unwrap_default<as_default<Plan>> { using type = Plan; static constexpr bool marked = true; };
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_HPP
