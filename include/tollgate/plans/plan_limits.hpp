// SPDX-License-Identifier: MIT
// plan_limits: the limits in force for one tenant at run time (a plan's, possibly overridden).
#ifndef TOLLGATE_PLANS_PLAN_LIMITS_HPP
#define TOLLGATE_PLANS_PLAN_LIMITS_HPP

#include <cstddef>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <tollgate/credits.hpp>
#include <tollgate/plans/limit.hpp>

namespace tollgate {

/// What a soft limit charges above its maximum: `price` per unit, and the `ceiling` no request passes.
struct overage_terms {
  credits price{};
  limit_value ceiling{unlimited};
  friend constexpr bool operator==(const overage_terms&, const overage_terms&) noexcept = default;
};

/// One limit at run time. `name` views storage owned by the plan table (static), never a request.
struct limit_entry {
  std::string_view name;
  limit_value value;
  /// Set for a soft limit: `value` is then the units included, `overage` what passing it costs.
  std::optional<overage_terms> overage{};
  friend bool operator==(const limit_entry&, const limit_entry&) = default;

  // `for (const auto& [name, value] : limits.entries())` keeps compiling now that an entry also
  // carries overage terms: the tuple protocol (below) binds two names, `.overage` stays a member.
  template <std::size_t I>
  friend constexpr const auto& get(const limit_entry& e) noexcept {
    static_assert(I < 2, "tollgate: a limit_entry binds as [name, value]; read .overage by name");
    if constexpr (I == 0) return e.name;
    else return e.value;
  }
  template <std::size_t I>
  friend constexpr auto& get(limit_entry& e) noexcept {
    static_assert(I < 2, "tollgate: a limit_entry binds as [name, value]; read .overage by name");
    if constexpr (I == 0) return e.name;
    else return e.value;
  }
  template <std::size_t I>
  friend constexpr auto&& get(limit_entry&& e) noexcept {
    static_assert(I < 2, "tollgate: a limit_entry binds as [name, value]; read .overage by name");
    if constexpr (I == 0) return std::move(e.name);
    else return std::move(e.value);
  }
};

/// A plan's name and its limits, in the table's declaration order (the order the endpoint writes).
class plan_limits {
 public:
  plan_limits(std::string_view plan, std::vector<limit_entry> entries) : plan_(plan), entries_(std::move(entries)) {}

  /// The plan's name, e.g. "free".
  [[nodiscard]] std::string_view plan() const noexcept { return plan_; }
  [[nodiscard]] const std::vector<limit_entry>& entries() const noexcept { return entries_; }

  /// The maximum of limit `name`, or std::nullopt when the table has no such limit.
  [[nodiscard]] std::optional<limit_value> find(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return e.value;
    return std::nullopt;
  }
  /// The whole entry of limit `name` (maximum and overage terms), or nullptr.
  [[nodiscard]] const limit_entry* entry(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  /// Replaces the maximum of limit `name`; false (and no change) when there is no such limit.
  bool set(std::string_view name, limit_value value) noexcept {
    for (auto& e : entries_)
      if (e.name == name) { e.value = value; return true; }
    return false;
  }

  friend bool operator==(const plan_limits&, const plan_limits&) = default;

 private:
  std::string_view plan_;
  std::vector<limit_entry> entries_;
};

}  // namespace tollgate

template <>
struct std::tuple_size<tollgate::limit_entry> : std::integral_constant<std::size_t, 2> {};
template <>
struct std::tuple_element<0, tollgate::limit_entry> {
  using type = std::string_view;
};
template <>
struct std::tuple_element<1, tollgate::limit_entry> {
  using type = tollgate::limit_value;
};

#endif  // TOLLGATE_PLANS_PLAN_LIMITS_HPP
