// JSON for tollgate::credits (opt-in; needs nlohmann/json): a JSON number in and out, without drift.
#ifndef TOLLGATE_JSON_CREDITS_HPP
#define TOLLGATE_JSON_CREDITS_HPP

#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>

namespace nlohmann {

/// credits ⇄ JSON number. Out: the nearest double, which prints as the exact decimal (1.25, 0.1).
/// In: integers exactly; floats through their shortest text, so 0.1 is exactly 100'000 µcr and
/// values with more than 6 decimals round to the nearest micro-credit; a numeric string too.
template <>
struct adl_serializer<tollgate::credits> {
  static void to_json(json& j, tollgate::credits c) {
    if (c.micros() % tollgate::credits::scale == 0) {
      j = c.micros() / tollgate::credits::scale;  // whole amounts stay integers: no "5.0" vs "5" surprises
    } else {
      j = c.to_double();
    }
  }
  static void from_json(const json& j, tollgate::credits& c) {
    if (j.is_number_integer()) {
      constexpr std::int64_t max_whole = INT64_MAX / tollgate::credits::scale;
      if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(max_whole))
        throw std::out_of_range("credit amount out of range");
      const auto whole = j.get<std::int64_t>();
      if (whole > max_whole || whole < -max_whole) throw std::out_of_range("credit amount out of range");
      c = tollgate::credits::whole(whole);
    } else if (j.is_number_float()) {
      auto parsed = tollgate::credits::from_double(j.get<double>());
      if (!parsed) throw std::invalid_argument("not a finite credit amount");
      c = *parsed;
    } else if (j.is_string()) {
      c = tollgate::credits::parse_or_throw(j.get<std::string>());
    } else {
      throw std::invalid_argument("a credit amount must be a JSON number");
    }
  }
};

}  // namespace nlohmann

#endif  // TOLLGATE_JSON_CREDITS_HPP
