// SPDX-License-Identifier: MIT
// by_response_size<Base, PerKb>: base + KB of body actually sent × rate (KB = 1024 bytes).
#ifndef TOLLGATE_CALCULATORS_BY_RESPONSE_SIZE_HPP
#define TOLLGATE_CALCULATORS_BY_RESPONSE_SIZE_HPP

#include <cstdint>

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/metering/context.hpp>

namespace tollgate {

/// `Base + bytes / 1024 × PerKb`, pro rata to the byte, rounded to the nearest micro-credit.
/// The bytes are those of the body sent (or delivered, for a stream), not of a serialised object.
template <credits Base, credits PerKb>
struct by_response_size {
  static constexpr bool reads_elapsed = false;
  [[nodiscard]] constexpr credits operator()(const request_ref&, const response_ref&, const metering_context& ctx) const {
    return Base + PerKb.scaled(static_cast<std::int64_t>(ctx.response_bytes()), 1024);
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_BY_RESPONSE_SIZE_HPP
