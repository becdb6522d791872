// SPDX-License-Identifier: MIT
// sum<A, B, ...>: the sum of several calculators' costs.
#ifndef TOLLGATE_CALCULATORS_SUM_HPP
#define TOLLGATE_CALCULATORS_SUM_HPP

#include <tuple>

#include <tollgate/calculators/calculator.hpp>

namespace tollgate {

/// Adds the costs: `sum<fixed_cost<1_cr>, by_response_size<0_cr, 0.05_cr>, by_processing_time<0_cr, 1_cr>>`.
template <cost_calculator... Calculators>
  requires(sizeof...(Calculators) > 0)
struct sum {
  static constexpr bool reads_elapsed = (calculator_reads_elapsed<Calculators> || ...);
  std::tuple<Calculators...> parts_{};

  [[nodiscard]] credits operator()(const request_ref& req, const response_ref& res, const metering_context& ctx) const {
    return std::apply([&](const auto&... c) { return (credits{} + ... + credits(c(req, res, ctx))); }, parts_);
  }
};

/// Adds `Penalty` when the response status is `MinStatus` or above (a failed call still costs).
template <credits Penalty, int MinStatus = 400>
struct penalty_on_error {
  static constexpr bool reads_elapsed = false;
  [[nodiscard]] credits operator()(const request_ref&, const response_ref& res, const metering_context&) const {
    return res.status() >= MinStatus ? Penalty : credits{};
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_SUM_HPP
