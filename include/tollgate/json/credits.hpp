// SPDX-License-Identifier: MIT
// JSON for tollgate::credits (opt-in; needs nlohmann/json): JSON numbers in and out, exactly.
#ifndef TOLLGATE_JSON_CREDITS_HPP
#define TOLLGATE_JSON_CREDITS_HPP

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>

namespace tollgate::detail {
/// Below this many credits (2^33) a double tells every micro-credit apart: an amount written as
/// the nearest double reads back exactly (credits::from_double). At and above it, it cannot.
inline constexpr double json_exact_double_limit = 8'589'934'592.0;
inline constexpr std::int64_t json_exact_double_limit_micros = std::int64_t{8'589'934'592} * credits::scale;
}  // namespace tollgate::detail

namespace nlohmann {

/// credits ⇄ JSON, exact over the whole int64 micro-credit range. nlohmann::json keeps a
/// fractional number as a double, so amounts are written in the form that cannot lose a digit:
///   - whole amounts as JSON integers (`100`, `-9223372036854`);
///   - fractional amounts below 2^33 credits as JSON numbers: the shortest text of the nearest
///     double, which is the exact decimal up to 15 digits (`1.25`, `0.1`, `1e-06`) and reads back
///     exactly beyond (`3287100986.0684338` is 3287100986.068434);
///   - fractional amounts of 2^33 credits or more as the exact decimal in a string
///     (`"9223372036854.775807"`): no double can carry them.
/// In: integers exactly; numbers with a fraction below 2^33 credits exactly (more than 6 decimals
/// round once to the nearest micro-credit, halves away from zero); decimal strings exactly.
/// Refused: numbers outside the range (tollgate::amount_overflow); numbers with a fraction or an
/// exponent at or above 2^33 credits, as their double stands for several amounts; anything that
/// is not an amount (std::invalid_argument).
template <>
struct adl_serializer<tollgate::credits> {
  static void to_json(json& j, tollgate::credits c) {
    const std::int64_t micros = c.micros();
    if (micros % tollgate::credits::scale == 0) {
      j = micros / tollgate::credits::scale;  // whole amounts stay integers: no "5.0" vs "5" surprises
    } else if (micros < tollgate::detail::json_exact_double_limit_micros &&
               micros > -tollgate::detail::json_exact_double_limit_micros) {
      j = c.to_double();
    } else {
      j = c.to_string();
    }
  }
  static void from_json(const json& j, tollgate::credits& c) {
    if (j.is_number_unsigned()) {
      const auto whole = j.get<std::uint64_t>();
      if (whole > static_cast<std::uint64_t>(INT64_MAX / tollgate::credits::scale)) throw out_of_range(j);
      c = tollgate::credits::whole(static_cast<std::int64_t>(whole));
    } else if (j.is_number_integer()) {
      const auto whole = j.get<std::int64_t>();
      if (whole > INT64_MAX / tollgate::credits::scale || whole < INT64_MIN / tollgate::credits::scale) throw out_of_range(j);
      c = tollgate::credits::whole(whole);
    } else if (j.is_number_float()) {
      const double d = j.get<double>();
      if (!std::isfinite(d)) throw std::invalid_argument("not a finite credit amount");
      if (d >= 9.3e12 || d <= -9.3e12) throw out_of_range(j);
      if (d >= tollgate::detail::json_exact_double_limit || d <= -tollgate::detail::json_exact_double_limit)
        throw std::invalid_argument("a credit amount of 2^33 credits or more must be a JSON integer or a decimal string: "
                                    "as a double it stands for several amounts, got " + j.dump());
      auto parsed = tollgate::credits::from_double(d);
      if (!parsed) throw out_of_range(j);
      c = *parsed;
    } else if (j.is_string()) {
      const auto& text = j.get_ref<const std::string&>();
      auto parsed = tollgate::credits::parse(text);
      if (!parsed)
        throw std::invalid_argument("not a credit amount (a decimal within ±9223372036854.775807 with at most 6 decimals): '" +
                                    text + "'");
      c = *parsed;
    } else {
      throw std::invalid_argument("a credit amount must be a JSON number");
    }
  }

 private:
  static tollgate::amount_overflow out_of_range(const json& j) {
    return tollgate::amount_overflow("credit amount out of range (±9223372036854.775807 credits): " + j.dump());
  }
};

}  // namespace nlohmann

#endif  // TOLLGATE_JSON_CREDITS_HPP
