// SPDX-License-Identifier: MIT
// limit<"deployments", 1>: one named maximum of a plan, a count or tollgate::unlimited.
#ifndef TOLLGATE_PLANS_LIMIT_HPP
#define TOLLGATE_PLANS_LIMIT_HPP

#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include <tollgate/detail/fixed_string.hpp>

namespace tollgate {

/// The type of `tollgate::unlimited`; structural, so it can be a template argument.
struct unlimited_t {
  friend constexpr bool operator==(unlimited_t, unlimited_t) noexcept = default;
};

/// "No maximum": `limit<"self_hosted_workers", tollgate::unlimited>`. The endpoint writes it as `null`.
inline constexpr unlimited_t unlimited{};

/// A limit's maximum at run time: a non-negative count, or unlimited.
class limit_value {
 public:
  /// Zero: the most restrictive maximum, so a forgotten value never grants anything.
  constexpr limit_value() noexcept : max_(0) {}
  constexpr limit_value(unlimited_t) noexcept {}  // NOLINT: implicit, reads like the marker
  constexpr limit_value(std::int64_t max) noexcept : max_(max < 0 ? 0 : max) {}  // NOLINT: implicit, `= 5` reads well

  [[nodiscard]] constexpr bool is_unlimited() const noexcept { return !max_.has_value(); }
  /// The maximum; only meaningful when `!is_unlimited()`.
  [[nodiscard]] constexpr std::int64_t max() const noexcept { return max_.value_or(0); }
  /// The maximum, or `std::nullopt` for unlimited (the JSON `null`).
  [[nodiscard]] constexpr std::optional<std::int64_t> to_optional() const noexcept { return max_; }

  friend constexpr bool operator==(const limit_value&, const limit_value&) noexcept = default;

 private:
  std::optional<std::int64_t> max_;
};

namespace detail {
template <auto Max>
inline constexpr bool is_valid_limit_max = [] {
  using type = std::remove_cvref_t<decltype(Max)>;
  if constexpr (std::same_as<type, unlimited_t>) return true;
  else if constexpr (std::integral<type> && !std::same_as<type, bool>)
    return Max >= 0 && static_cast<std::uintmax_t>(Max) <= static_cast<std::uintmax_t>(INT64_MAX);
  else return false;
}();

/// limit<Name, Max>'s rules, in order. Stops at the first broken one and returns false, so its
/// message is the only error.
template <fixed_string Name, auto Max>
constexpr bool check_limit() {
  constexpr bool named = Name.size() > 0;
  if constexpr (!named) {
    static_assert(named, "tollgate: a limit's name must not be empty");
    return false;
  } else if constexpr (!is_valid_limit_max<Max>) {
    static_assert(is_valid_limit_max<Max>,
                  "tollgate: a limit's maximum must be a non-negative integer (at most INT64_MAX) or tollgate::unlimited");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

/// One limit of a plan: a name and a maximum, `limit<"deployments", 1>` or
/// `limit<"self_hosted_workers", tollgate::unlimited>`.
template <fixed_string Name, auto Max>
struct limit {
 private:
  // A type rather than a value, so the rules are checked as soon as the limit is named.
  using well_formed = std::bool_constant<detail::check_limit<Name, Max>()>;

 public:
  static constexpr std::string_view name = Name.view();
  static constexpr limit_value max = [] {
    using type = std::remove_cvref_t<decltype(Max)>;
    if constexpr (std::same_as<type, unlimited_t>) return limit_value(unlimited);
    else if constexpr (well_formed::value) return limit_value(static_cast<std::int64_t>(Max));
    // Refused above: the nearest maximum a limit can hold stands in, so code reading it adds no
    // second error (above INT64_MAX is as good as unlimited; below zero, or not a number, is zero).
    else if constexpr (std::integral<type> && !std::same_as<type, bool>) return Max > 0 ? limit_value(unlimited) : limit_value(0);
    else return limit_value(0);
  }();
};

namespace detail {
template <class T>
inline constexpr bool is_limit = false;
template <fixed_string Name, auto Max>
inline constexpr bool is_limit<limit<Name, Max>> = true;
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_LIMIT_HPP
