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
template <class E>
constexpr bool check_estimate() {
  static_assert(requires(const E& e, const request_ref& r) { e(r); },
                "tollgate: this estimate is not callable as `estimate(const tollgate::request_ref&) const`");
  static_assert(requires(const E& e, const request_ref& r) { { e(r) } -> std::convertible_to<credits>; },
                "tollgate: an estimate must return tollgate::credits");
  return true;
}
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_ESTIMATES_ESTIMATE_HPP
