// Fuzzes credits::parse/parse_or_throw/to_string/from_double and the JSON conversion: exact round trips, no UB.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/json/credits.hpp>

#include "fuzz_support.hpp"

namespace {

using tollgate::credits;

// Whatever an amount is, its text and its JSON read back to it exactly.
void check_round_trips(credits c) {
  const std::string text = c.to_string();
  const auto reparsed = credits::parse(text);
  TOLLGATE_FUZZ_CHECK(reparsed.has_value());
  TOLLGATE_FUZZ_CHECK(*reparsed == c);
  TOLLGATE_FUZZ_CHECK(reparsed->to_string() == text);
  TOLLGATE_FUZZ_CHECK(credits::parse_or_throw(text) == c);

  const nlohmann::json j = c;
  TOLLGATE_FUZZ_CHECK(j.get<credits>() == c);
  // Through JSON text too, as a client or a state file sees it.
  const auto reread = nlohmann::json::parse(j.dump());
  TOLLGATE_FUZZ_CHECK(reread.get<credits>() == c);

  // Below 2^33 credits the nearest double tells every micro-credit apart.
  if (c.micros() < (std::int64_t{1} << 33) * credits::scale && c.micros() > -(std::int64_t{1} << 33) * credits::scale) {
    const auto back = credits::from_double(c.to_double());
    TOLLGATE_FUZZ_CHECK(back.has_value());
    TOLLGATE_FUZZ_CHECK(*back == c);
  }
}

// Reads JSON as an amount the way a request body or state file is read; refusals are exceptions.
void check_json_amount(const nlohmann::json& j) {
  std::optional<credits> c;
  try {
    c = j.get<credits>();
  } catch (const std::exception&) {
    return;
  }
  check_round_trips(*c);
  if (j.is_number_integer()) TOLLGATE_FUZZ_CHECK(c->micros() % credits::scale == 0);
  if (j.is_string()) TOLLGATE_FUZZ_CHECK(credits::parse(j.get_ref<const std::string&>()) == c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = tollgate_fuzz::as_text(data, size);

  // Text: parse and parse_or_throw agree, and what parses round-trips.
  const auto parsed = credits::parse(text);
  bool threw = false;
  try {
    const credits c = credits::parse_or_throw(text);
    TOLLGATE_FUZZ_CHECK(parsed.has_value() && c == *parsed);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  TOLLGATE_FUZZ_CHECK(threw == !parsed.has_value());
  if (parsed) check_round_trips(*parsed);

  // The bytes as JSON (a number, a string, anything else): accepted amounts round-trip.
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    check_json_amount(j);
    if (j.is_array())
      for (const auto& element : j) check_json_amount(element);
  }

  // The first 8 bytes as micro-credits and as a double.
  if (size >= 8) {
    std::int64_t micros = 0;
    std::memcpy(&micros, data, sizeof micros);
    check_round_trips(credits::from_micros(micros));
    double d = 0;
    std::memcpy(&d, data, sizeof d);
    if (const auto c = credits::from_double(d)) {
      TOLLGATE_FUZZ_CHECK(std::isfinite(d));
      check_round_trips(*c);
      // Rounded once to the nearest micro-credit: within half a micro-credit of the double (and
      // the double's own rounding error, relative to its size).
      TOLLGATE_FUZZ_CHECK(std::fabs(c->to_double() - d) <= 0.5e-6 + std::fabs(d) * 1e-15);
    }
  }

  // Checked arithmetic: std::nullopt exactly when the 128-bit result leaves the int64 range, and
  // then the operator throws amount_overflow; never a wrapped value.
  if (size >= 16) {
    std::int64_t v[2];
    std::memcpy(v, data, sizeof v);
    const credits a = credits::from_micros(v[0]), b = credits::from_micros(v[1]);
    using wide = tollgate::detail::int128;
    const auto fits = [](wide x) { return x >= INT64_MIN && x <= INT64_MAX; };
    const auto check = [&](std::optional<credits> checked, wide exact, auto op) {
      TOLLGATE_FUZZ_CHECK(checked.has_value() == fits(exact));
      if (checked) TOLLGATE_FUZZ_CHECK(checked->micros() == static_cast<std::int64_t>(exact));
      try {
        const credits r = op();
        TOLLGATE_FUZZ_CHECK(checked && r == *checked);
      } catch (const tollgate::amount_overflow&) {
        TOLLGATE_FUZZ_CHECK(!checked);
      }
    };
    check(credits::checked_add(a, b), wide{v[0]} + v[1], [&] { return a + b; });
    check(credits::checked_sub(a, b), wide{v[0]} - v[1], [&] { return a - b; });
    check(credits::checked_mul(a, v[1]), wide{v[0]} * v[1], [&] { return a * v[1]; });
    check(credits::checked_sub(credits{}, a), -wide{v[0]}, [&] { return -a; });
  }

  // Two amounts: scaled() rounds in 128 bits; a result out of range throws, never wraps.
  if (size >= 24) {
    std::int64_t v[3];
    std::memcpy(v, data, sizeof v);
    try {
      const credits s = credits::from_micros(v[0]).scaled(v[1], v[2]);
      if (v[2] == v[1]) TOLLGATE_FUZZ_CHECK(s.micros() == v[0]);
    } catch (const std::exception&) {
      // zero denominator or out of range
    }
  }
  return 0;
}
