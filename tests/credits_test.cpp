// Tests of tollgate::credits: exact literals, parsing, formatting, rounding, double round trips.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <random>

#include <tollgate/tollgate.hpp>

using tollgate::credits;
using namespace tollgate::literals;

TEST_CASE("credits: literals are exact and computed at compile time") {
  static_assert((5.0_cr).micros() == 5'000'000);
  static_assert((0.15_cr).micros() == 150'000);
  static_assert((3_cr).micros() == 3'000'000);
  static_assert((0.000001_cr).micros() == 1);
  static_assert((1'000.5_cr).micros() == 1'000'500'000);
  static_assert(0.1_cr + 0.2_cr == 0.3_cr);  // the classic float failure, exact here
  CHECK((2.5_cr - 0.75_cr) == 1.75_cr);
  CHECK((0.1_cr * 3) == 0.3_cr);
}

TEST_CASE("credits: parse accepts decimals and exponents, rejects junk and lost digits") {
  CHECK(credits::parse("12") == 12_cr);
  CHECK(credits::parse("-0.5") == -(0.5_cr));
  CHECK(credits::parse("+1.234567") == 1.234567_cr);
  CHECK(credits::parse("1.2345670000") == 1.234567_cr);
  CHECK(credits::parse("1e-06") == credits::from_micros(1));
  CHECK(credits::parse("2.5E3") == 2500_cr);
  CHECK(credits::parse(".5") == 0.5_cr);
  CHECK_FALSE(credits::parse(""));
  CHECK_FALSE(credits::parse("-"));
  CHECK_FALSE(credits::parse("1.2345678"));  // a 7th non-zero decimal would be lost
  CHECK_FALSE(credits::parse("1.2.3"));
  CHECK_FALSE(credits::parse("abc"));
  CHECK_FALSE(credits::parse("1e"));
  CHECK_FALSE(credits::parse("99999999999999999999"));
  CHECK_THROWS_AS((void)credits::parse_or_throw("x"), std::invalid_argument);
}

TEST_CASE("credits: to_string and fmt print the shortest exact decimal") {
  CHECK((1_cr).to_string() == "1");
  CHECK((0.5_cr).to_string() == "0.5");
  CHECK((-(2.000001_cr)).to_string() == "-2.000001");
  CHECK(credits{}.to_string() == "0");
  CHECK(fmt::format("{}", 98.40127_cr) == "98.40127");
  CHECK(fmt::format("[{:>6}]", 1.5_cr) == "[   1.5]");
  CHECK(credits::from_micros(INT64_MIN).to_string() == "-9223372036854.775808");
}

TEST_CASE("credits: scaled rounds half away from zero and saturates") {
  CHECK((0.1_cr).scaled(1536, 1024) == 0.15_cr);
  CHECK(credits::from_micros(1).scaled(1, 2) == credits::from_micros(1));   // 0.5 µcr → 1
  CHECK(credits::from_micros(1).scaled(1, 3) == credits{});                  // 0.33 µcr → 0
  CHECK(credits::from_micros(-1).scaled(1, 2) == credits::from_micros(-1));
  CHECK(credits::from_micros(INT64_MAX).scaled(10, 1) == credits::from_micros(INT64_MAX));
  CHECK_THROWS_AS((void)(1_cr).scaled(1, 0), std::domain_error);
}

TEST_CASE("credits: every amount survives a trip through a double (JSON numbers)") {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::int64_t> micros(-(std::int64_t{1} << 52), std::int64_t{1} << 52);
  for (int i = 0; i < 100'000; ++i) {
    const auto c = credits::from_micros(micros(rng));
    REQUIRE(credits::from_double(c.to_double()) == c);
  }
  CHECK(credits::from_double(0.1) == 0.1_cr);
  CHECK(credits::from_double(1e-7) == credits{});                         // below a micro-credit
  CHECK(credits::from_double(0.0000015) == credits::from_micros(2));      // 1.5 µcr rounds up
  CHECK_FALSE(credits::from_double(1e300));
}
