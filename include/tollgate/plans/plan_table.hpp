// SPDX-License-Identifier: MIT
// plan_table<plan<...>...>: every plan of a product, checked at compile time, looked up by name at run time.
#ifndef TOLLGATE_PLANS_PLAN_TABLE_HPP
#define TOLLGATE_PLANS_PLAN_TABLE_HPP

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/hana/bool.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/lookup_result.hpp>
#include <tollgate/plans/plan.hpp>
#include <tollgate/plans/plan_limits.hpp>

namespace tollgate {

namespace detail {
/// Stands in for every entry of a refused table, so code using the table adds no second error.
using stand_in_plan = plan<"(not a plan)">;

/// The plan an entry declares, or the stand-in when the table is refused: then an entry may be no
/// plan, or one the table's checks never reached, whose own message would be a second one.
template <bool Accepted, class Entry>
using plan_of_entry = std::conditional_t<Accepted, typename unwrap_default<Entry>::type, stand_in_plan>;

template <class... Plans>
struct first_plan_of { using type = stand_in_plan; };  // no plans: refused by check_plan_table
template <class First, class... Rest>
struct first_plan_of<First, Rest...> { using type = First; };

/// Every plan declares exactly the limit names of `names` (the first plan's).
template <std::size_t L, class... Plans>
constexpr bool same_limits(const std::array<std::string_view, L>& names) noexcept {
  auto covers = [&]<class P>() {
    if (P::limit_count != L) return false;
    for (auto n : names)
      if (find_name(P::limit_names, n) == no_index) return false;
    return true;
  };
  return (covers.template operator()<Plans>() && ...);
}

/// plan_table's rules, in order. Stops at the first broken one and returns false, so its message
/// is the only error.
template <class... Entries>
constexpr bool check_plan_table() {
  constexpr bool has_plans = sizeof...(Entries) > 0;
  constexpr bool only_plans = (is_plan<typename unwrap_default<Entries>::type> && ...);
  constexpr bool one_default = (0 + ... + int{unwrap_default<Entries>::marked}) <= 1;
  if constexpr (!has_plans) {
    static_assert(has_plans, "tollgate: a plan_table needs at least one plan");
    return false;
  } else if constexpr (!only_plans) {
    static_assert((is_plan<typename unwrap_default<Entries>::type> && ...),  // clang names the stray entry
                  "tollgate: plan_table<...> takes only tollgate::plan<...> or tollgate::as_default<plan<...>> arguments");
    return false;
  } else if constexpr (!std::conjunction_v<is_sound_plan<typename unwrap_default<Entries>::type>...>) {
    // The first refused plan said why; conjunction stops there, so the ones after it stay quiet.
    return false;
  } else if constexpr (!one_default) {
    static_assert(one_default, "tollgate: a plan_table can mark only one plan as_default<>");
    return false;
  } else {
    // Only now are the entries known to be plans, with names and limits to compare.
    using first = typename first_plan_of<typename unwrap_default<Entries>::type...>::type;
    constexpr bool distinct_names =
        all_distinct(std::array<std::string_view, sizeof...(Entries)>{unwrap_default<Entries>::type::name...});
    constexpr bool same_limit_names = same_limits<first::limit_count, typename unwrap_default<Entries>::type...>(first::limit_names);
    if constexpr (!distinct_names) {
      static_assert(distinct_names, "tollgate: duplicate plan name: two plans of this plan_table have the same name");
      return false;
    } else if constexpr (!same_limit_names) {
      static_assert(same_limit_names,
                    "tollgate: missing limit: a plan of this plan_table does not declare a limit that another plan "
                    "declares (every plan must declare the same limit names)");
      return false;
    } else {
      return true;
    }
  }
}
}  // namespace detail

/// All plans of a product. The first plan is the default unless one is wrapped in `as_default<>`.
/// Checked at compile time: plan names are distinct, every plan declares the same limits.
///
///     using my_plans = tollgate::plan_table<
///         tollgate::plan<"free", tollgate::limit<"seats", 1>>,
///         tollgate::plan<"team", tollgate::limit<"seats", tollgate::unlimited>>>;
///     static_assert(my_plans::limit_of<"free", "seats">() == 1);
///     auto team = my_plans::lookup("team");   // run time: a lookup_result<plan_limits>
template <class... Entries>
class plan_table {
  // A type rather than a value, so the rules are checked as soon as the table is named. A refused
  // table is still built (every entry becomes detail::stand_in_plan), so code using it adds no
  // second error.
  using well_formed = std::bool_constant<detail::check_plan_table<Entries...>()>;
  template <class Entry>
  using plan_of = detail::plan_of_entry<well_formed::value, Entry>;

  using first_plan = typename detail::first_plan_of<plan_of<Entries>...>::type;

 public:
  /// The plans as Boost.Hana types, for compile-time iteration.
  static constexpr auto plan_types = boost::hana::tuple_t<plan_of<Entries>...>;
  static constexpr std::size_t plan_count = sizeof...(Entries);
  static constexpr std::array<std::string_view, plan_count> plan_names{plan_of<Entries>::name...};
  static constexpr std::size_t limit_count = first_plan::limit_count;
  /// The limit names in the first plan's order: the order the endpoint writes them in.
  static constexpr std::array<std::string_view, limit_count> limit_names = first_plan::limit_names;

  /// Index (in `plan_names`) of the default plan.
  static constexpr std::size_t default_index = [] {
    constexpr std::array<bool, plan_count> marked{detail::unwrap_default<Entries>::marked...};
    for (std::size_t i = 0; i < plan_count; ++i)
      if (marked[i]) return i;
    return std::size_t{0};
  }();
  static constexpr std::string_view default_plan_name = plan_count == 0 ? std::string_view() : plan_names[default_index];

  template <fixed_string Plan>
  static constexpr bool has_plan = detail::find_name(plan_names, Plan.view()) != detail::no_index;
  template <fixed_string Limit>
  static constexpr bool has_limit = detail::find_name(limit_names, Limit.view()) != detail::no_index;

  /// The maximum of `Limit` in plan `Plan`, checked at compile time: `default_plans::limit_of<"free", "deployments">()`.
  template <fixed_string Plan, fixed_string Limit>
  [[nodiscard]] static consteval limit_value limit_of() {
    if constexpr (!well_formed::value) {
      return limit_value(0);  // the table is refused already: its names prove nothing
    } else if constexpr (!has_plan<Plan>) {
      static_assert(has_plan<Plan>, "tollgate: unknown plan name: limit_of<Plan, Limit> names a plan this plan_table does not declare");
      return limit_value(0);
    } else if constexpr (!has_limit<Limit>) {
      static_assert(has_limit<Limit>, "tollgate: unknown limit name: limit_of<Plan, Limit> names a limit this plan_table does not declare");
      return limit_value(0);
    } else {
      constexpr auto found = boost::hana::find_if(plan_types, [](auto type) {
        return boost::hana::bool_c<decltype(type)::type::name == Plan.view()>;
      });
      using found_plan = typename std::remove_cvref_t<decltype(found.value())>::type;
      return found_plan::max_of(Limit.view());
    }
  }

  /// Compile-time check that `Limit` is a limit of this table; returns its name.
  template <fixed_string Limit>
  [[nodiscard]] static consteval std::string_view limit_name() {
    // A refused table proves nothing about its names: its own message stays the only one.
    static_assert(!well_formed::value || has_limit<Limit>, "tollgate: unknown limit name: this plan_table declares no limit of that name");
    return Limit.view();
  }

  /// Plan `name`'s limits, or std::nullopt when the table has no such plan. Names are case-sensitive.
  [[nodiscard]] static std::optional<plan_limits> find(std::string_view name) {
    const auto i = detail::find_name(plan_names, name);
    if (i == detail::no_index) return std::nullopt;
    return limits_at(i);
  }
  /// Plan `name`'s limits, or an error such as "unknown plan 'pro': expected 'free', 'growth' or 'enterprise'".
  [[nodiscard]] static lookup_result<plan_limits> lookup(std::string_view name) {
    if (auto found = find(name)) return lookup_result<plan_limits>::success(std::move(*found));
    return lookup_result<plan_limits>::failure("unknown plan '" + std::string(name) + "': expected " + expected_names());
  }
  /// The default plan's limits.
  [[nodiscard]] static plan_limits default_limits() { return limits_at(default_index); }

  /// The plan names quoted and joined the way the 422 body lists them: "'free', 'growth' or 'enterprise'".
  [[nodiscard]] static std::string expected_names() {
    std::string out;
    for (std::size_t i = 0; i < plan_count; ++i) {
      if (i > 0) out += (i + 1 == plan_count) ? " or " : ", ";
      out += '\'';
      out += plan_names[i];
      out += '\'';
    }
    return out;
  }

 private:
  // values_[plan][limit], limits in `limit_names` order whatever order each plan declared them in.
  static constexpr std::array<std::array<limit_value, limit_count>, plan_count> values_{[] {
    using plan_type = plan_of<Entries>;
    std::array<limit_value, limit_count> row{};
    for (std::size_t l = 0; l < limit_count; ++l) row[l] = plan_type::max_of(limit_names[l]);
    return row;
  }()...};

  static constexpr std::array<std::array<std::optional<overage_terms>, limit_count>, plan_count> overages_{[] {
    using plan_type = plan_of<Entries>;
    std::array<std::optional<overage_terms>, limit_count> row{};
    for (std::size_t l = 0; l < limit_count; ++l) row[l] = plan_type::overage_of(limit_names[l]);
    return row;
  }()...};

  static plan_limits limits_at(std::size_t i) {
    std::vector<limit_entry> entries;
    entries.reserve(limit_count);
    for (std::size_t l = 0; l < limit_count; ++l) entries.push_back({limit_names[l], values_[i][l], overages_[i][l]});
    return plan_limits(plan_names[i], std::move(entries));
  }
};

namespace detail {
template <class... Entries>
constexpr bool accepted_table(const plan_table<Entries...>*) { return check_plan_table<Entries...>(); }
constexpr bool accepted_table(const void*) { return true; }  // not a plan_table: its own errors say so

/// Whether plan_table `Table` (or a class derived from one) passed its checks. Code built on a
/// table asks before checking names against it: a refused table has said why, and its names prove
/// nothing, so a second message would only repeat the first mistake. (Qualified, so no argument-
/// dependent lookup: it would complete the table's plans, even those the checks never reached.)
template <class Table>
inline constexpr bool is_accepted_table = detail::accepted_table(static_cast<const Table*>(nullptr));
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_TABLE_HPP
