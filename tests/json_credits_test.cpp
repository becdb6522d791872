// Tests of the JSON mapping of credits (tollgate/json/credits.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include <tollgate/json/credits.hpp>

using tollgate::credits;
using namespace tollgate::literals;

TEST_CASE("json: credits are written as plain JSON numbers without drift") {
  CHECK(nlohmann::json(1.25_cr).dump() == "1.25");
  CHECK(nlohmann::json(0.1_cr).dump() == "0.1");
  CHECK(nlohmann::json(100_cr).dump() == "100");
  CHECK(nlohmann::json(98.40127_cr).dump() == "98.40127");
  CHECK(nlohmann::json(credits::from_micros(1)).dump() == "1e-06");
}

TEST_CASE("json: credits are read from numbers and numeric strings") {
  CHECK(nlohmann::json::parse("0.3").get<credits>() == 0.3_cr);
  CHECK(nlohmann::json::parse("10000").get<credits>() == 10000_cr);
  CHECK(nlohmann::json::parse("\"2.5\"").get<credits>() == 2.5_cr);
  CHECK(nlohmann::json::parse("1.0000004").get<credits>() == 1_cr);
  CHECK_THROWS(nlohmann::json::parse("true").get<credits>());
  CHECK_THROWS(nlohmann::json::parse("\"abc\"").get<credits>());
  CHECK_THROWS(nlohmann::json::parse("1e300").get<credits>());
  CHECK_THROWS(nlohmann::json::parse("18446744073709551615").get<credits>());  // no wrap to -1
  CHECK_THROWS(nlohmann::json::parse("9223372036855").get<credits>());
}

TEST_CASE("json: every amount of the int64 micro-credit range round-trips exactly") {
  const auto round_trip = [](credits c) {
    const std::string text = nlohmann::json(c).dump();
    INFO("amount ", c.to_string(), " written as ", text);
    const auto back = nlohmann::json::parse(text).get<credits>();
    REQUIRE(back == c);
    // A string holds the exact decimal; a number's text denotes the amount's nearest double (the
    // best any reader using doubles can get: nlohmann writes it with Grisu2, not always shortest,
    // so 0.04266 is written 0.042659999999999997, the same double).
    const auto j = nlohmann::json::parse(text);
    if (j.is_string()) REQUIRE(credits::parse(j.get<std::string>()) == c);
    else if (j.is_number_float()) REQUIRE(std::stod(text) == c.to_double());
    else REQUIRE(j.get<std::int64_t>() * credits::scale == c.micros());
  };
  round_trip(credits::from_micros(INT64_MAX));
  round_trip(credits::from_micros(INT64_MIN));
  round_trip(credits::from_micros(INT64_MAX - 1));
  round_trip(credits::from_micros(INT64_MIN + 1));
  round_trip(credits::whole(9223372036854));
  round_trip(credits::whole(-9223372036854));
  round_trip(credits{});
  // The defect: a fractional balance just above 2^33 credits came back refused or off.
  const auto two_33 = credits::whole(std::int64_t{1} << 33);
  for (std::int64_t f : {1, 2, 3, 499'999, 500'000, 999'999}) {
    round_trip(two_33 + credits::from_micros(f));
    round_trip(two_33 - credits::from_micros(f));
    round_trip(-(two_33 + credits::from_micros(f)));
  }
  CHECK(nlohmann::json(two_33 + credits::from_micros(1)).dump() == "\"8589934592.000001\"");
  CHECK(nlohmann::json(two_33 - credits::from_micros(1)).dump() == "8589934591.999999");  // still a number
  CHECK(nlohmann::json(credits::from_micros(INT64_MAX)).dump() == "\"9223372036854.775807\"");
  CHECK(nlohmann::json(credits::whole(9223372036854)).dump() == "9223372036854");
  CHECK(nlohmann::json(0.04266_cr).dump() == "0.042659999999999997");  // nlohmann's Grisu2: same double
  CHECK(nlohmann::json::parse("0.042659999999999997").get<credits>() == 0.04266_cr);
  std::mt19937_64 rng(33);
  for (int i = 0; i < 200'000; ++i) {
    // Magnitudes spread over every power of two, both signs, whole and fractional.
    auto micros = static_cast<std::int64_t>(rng() >> (rng() % 64));
    if (i % 5 == 0) micros -= micros % 1'000'000;
    round_trip(credits::from_micros(i & 1 ? -micros : micros));
  }
}

TEST_CASE("json: amounts a double cannot carry exactly, or out of range, are refused clearly") {
  // A fraction at or above 2^33 credits: the double stands for several micro-credit amounts.
  CHECK_THROWS_WITH_AS(nlohmann::json::parse("8589934592.000001").get<credits>(),
                       doctest::Contains("must be a JSON integer or a decimal string"), std::invalid_argument);
  CHECK_THROWS_AS(nlohmann::json::parse("-10000000000.5").get<credits>(), std::invalid_argument);
  CHECK(nlohmann::json::parse("\"8589934592.000001\"").get<credits>() == credits::from_micros(8'589'934'592'000'001));
  CHECK(nlohmann::json::parse("8589934591.999999").get<credits>() == credits::from_micros(8'589'934'591'999'999));
  // Out of range, at the edge.
  CHECK(nlohmann::json::parse("9223372036854").get<credits>() == credits::whole(9223372036854));
  CHECK(nlohmann::json::parse("-9223372036854").get<credits>() == credits::whole(-9223372036854));
  CHECK_THROWS_AS(nlohmann::json::parse("9223372036855").get<credits>(), tollgate::amount_overflow);
  CHECK_THROWS_AS(nlohmann::json::parse("-9223372036855").get<credits>(), tollgate::amount_overflow);
  CHECK_THROWS_AS(nlohmann::json::parse("-9223372036854775808").get<credits>(), tollgate::amount_overflow);
  CHECK_THROWS_AS(nlohmann::json::parse("1e13").get<credits>(), tollgate::amount_overflow);
  CHECK_THROWS_AS(nlohmann::json::parse("\"9223372036854.775808\"").get<credits>(), std::invalid_argument);
  CHECK(nlohmann::json::parse("\"-9223372036854.775808\"").get<credits>() == credits::from_micros(INT64_MIN));
  CHECK_THROWS_AS(nlohmann::json::parse("\"1.0000001\"").get<credits>(), std::invalid_argument);  // strings are exact
  // Below 2^33 a number with more decimals rounds once to the nearest micro-credit.
  CHECK(nlohmann::json::parse("19.196078487237376").get<credits>() == credits::from_micros(19'196'078));
  CHECK(nlohmann::json::parse("0.00000049").get<credits>() == credits{});
  CHECK(nlohmann::json::parse("0.0000005").get<credits>() == credits::from_micros(1));
}
