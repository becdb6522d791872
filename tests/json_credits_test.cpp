// Tests of the JSON mapping of credits (tollgate/json/credits.hpp).
#include <doctest/doctest.h>

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
