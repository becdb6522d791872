// SPDX-License-Identifier: MIT
// fixed_cost<Amount>: the same charge whatever happened.
#ifndef TOLLGATE_CALCULATORS_FIXED_COST_HPP
#define TOLLGATE_CALCULATORS_FIXED_COST_HPP

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/metering/context.hpp>

namespace tollgate {

/// Charges `Amount`: `fixed_cost<2.5_cr>`.
template <credits Amount>
struct fixed_cost {
  static constexpr bool reads_elapsed = false;
  static_assert(!Amount.is_negative(), "tollgate: fixed_cost<Amount> must not be negative");
  [[nodiscard]] constexpr credits operator()(const request_ref&, const response_ref&, const metering_context&) const noexcept {
    return Amount;
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_FIXED_COST_HPP
