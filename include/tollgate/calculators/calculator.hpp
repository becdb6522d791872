// SPDX-License-Identifier: MIT
// The cost-calculator concept, and charge_estimate, the default calculator.
#ifndef TOLLGATE_CALCULATORS_CALCULATOR_HPP
#define TOLLGATE_CALCULATORS_CALCULATOR_HPP

#include <concepts>

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/metering/context.hpp>

namespace tollgate {

/// A cost calculator: the actual cost once the handler has run. Requirements, for `const C& c`,
/// `const request_ref& req`, `const response_ref& res`, `const metering_context& ctx`:
///   1. `c(req, res, ctx)` → convertible to `credits`;
///   2. it may throw: metered then charges the estimate and logs why.
/// Any callable of that shape fits, including a lambda type.
template <class C>
concept cost_calculator = requires(const C& c, const request_ref& req, const response_ref& res, const metering_context& ctx) {
  { c(req, res, ctx) } -> std::convertible_to<credits>;
};

/// Whether a calculator may read `ctx.elapsed()`, the handler's run time. metered reads the clock
/// twice a request to time the handler, which is a tenth of its cost on a fast path: it does so
/// unless the calculator declares `static constexpr bool reads_elapsed = false;` (every tollgate
/// calculator but by_processing_time does; a lambda or a calculator that says nothing is timed).
template <class C>
inline constexpr bool calculator_reads_elapsed = !requires { requires !static_cast<bool>(C::reads_elapsed); };

/// Charges what was locked. The default when metered is given no calculator.
struct charge_estimate {
  static constexpr bool reads_elapsed = false;
  [[nodiscard]] credits operator()(const request_ref&, const response_ref&, const metering_context& ctx) const noexcept {
    return ctx.estimate();
  }
};

namespace detail {
/// Requirement 1 of `cost_calculator` in two steps, so a failure says which. Stops at the first
/// broken step and returns false: its message is then the only error, as long as the caller
/// branches on the result instead of using the calculator anyway.
template <class C>
constexpr bool check_calculator() {
  constexpr bool callable = requires(const C& c, const request_ref& req, const response_ref& res, const metering_context& ctx) {
    c(req, res, ctx);
  };
  constexpr bool returns_credits = requires(const C& c, const request_ref& req, const response_ref& res, const metering_context& ctx) {
    { c(req, res, ctx) } -> std::convertible_to<credits>;
  };
  if constexpr (!callable) {
    static_assert(callable,
                  "tollgate: this cost calculator is not callable as `calc(const request_ref&, const response_ref&, const metering_context&) const`");
    return false;
  } else if constexpr (!returns_credits) {
    static_assert(returns_credits, "tollgate: a cost calculator must return tollgate::credits");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_CALCULATOR_HPP
