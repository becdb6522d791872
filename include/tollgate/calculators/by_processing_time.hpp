// SPDX-License-Identifier: MIT
// by_processing_time<Base, PerSecond>: base + handler duration × rate, timed by metered itself.
#ifndef TOLLGATE_CALCULATORS_BY_PROCESSING_TIME_HPP
#define TOLLGATE_CALCULATORS_BY_PROCESSING_TIME_HPP

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/metering/context.hpp>

namespace tollgate {

/// `Base + seconds × PerSecond`, with the handler's duration measured by metered on a monotonic
/// clock (no start-time bookkeeping in the handler), to the nanosecond, rounded to the micro-credit.
template <credits Base, credits PerSecond>
struct by_processing_time {
  static constexpr bool reads_elapsed = true;
  [[nodiscard]] credits operator()(const request_ref&, const response_ref&, const metering_context& ctx) const {
    return Base + PerSecond.scaled(ctx.elapsed().count(), 1'000'000'000);
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_BY_PROCESSING_TIME_HPP
