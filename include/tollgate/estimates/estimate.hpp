// SPDX-License-Identifier: MIT
// Estimates: how much to lock before the handler runs. The concept and the constant estimate<Amount>.
#ifndef TOLLGATE_ESTIMATES_ESTIMATE_HPP
#define TOLLGATE_ESTIMATES_ESTIMATE_HPP

#include <concepts>

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// An estimate policy. Requirements, for `const E& e` and `const request_ref& r`:
///   1. `e(r)` → convertible to `credits`: the amount to lock, not negative;
///   2. it may throw `tollgate::bad_request` when the request cannot be priced (answered 400).
/// Any callable fits, e.g. `decltype([](const tollgate::request_ref& r) { ... })`.
template <class E>
concept estimate_policy = requires(const E& e, const request_ref& r) {
  { e(r) } -> std::convertible_to<credits>;
};

/// Locks the same amount for every request: `estimate<5.0_cr>`.
template <credits Amount>
struct estimate {
  static_assert(!Amount.is_negative(), "tollgate: estimate<Amount> must not be negative");
  [[nodiscard]] constexpr credits operator()(const request_ref&) const noexcept { return Amount; }
};

namespace detail {
/// Requirement 1 of `estimate_policy` in two steps, so a failure says which. Stops at the first
/// broken step and returns false: its message is then the only error, as long as the caller
/// branches on the result instead of using the estimate anyway.
template <class E>
constexpr bool check_estimate() {
  constexpr bool callable = requires(const E& e, const request_ref& r) { e(r); };
  constexpr bool returns_credits = requires(const E& e, const request_ref& r) { { e(r) } -> std::convertible_to<credits>; };
  if constexpr (!callable) {
    static_assert(callable, "tollgate: this estimate is not callable as `estimate(const tollgate::request_ref&) const`");
    return false;
  } else if constexpr (!returns_credits) {
    static_assert(returns_credits, "tollgate: an estimate must return tollgate::credits");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_ESTIMATES_ESTIMATE_HPP
