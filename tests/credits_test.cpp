// Tests of tollgate::credits: exact literals, parsing, formatting, rounding, double round trips.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>

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

TEST_CASE("credits: scaled rounds half away from zero and refuses to overflow") {
  CHECK((0.1_cr).scaled(1536, 1024) == 0.15_cr);
  CHECK(credits::from_micros(1).scaled(1, 2) == credits::from_micros(1));   // 0.5 µcr → 1
  CHECK(credits::from_micros(1).scaled(1, 3) == credits{});                  // 0.33 µcr → 0
  CHECK(credits::from_micros(-1).scaled(1, 2) == credits::from_micros(-1));
  CHECK(credits::from_micros(INT64_MAX).scaled(INT64_MAX, INT64_MAX) == credits::from_micros(INT64_MAX));
  CHECK(credits::from_micros(INT64_MIN).scaled(1, 1) == credits::from_micros(INT64_MIN));
  CHECK(credits::from_micros(6).scaled(1, INT64_MIN) == credits{});          // -INT64_MIN in 128 bits
  CHECK(credits::from_micros(INT64_MIN).scaled(-1, INT64_MIN) == credits::from_micros(-1));
  CHECK_THROWS_AS((void)credits::from_micros(INT64_MAX).scaled(10, 1), tollgate::amount_overflow);
  CHECK_THROWS_AS((void)credits::from_micros(INT64_MIN).scaled(-1, 1), tollgate::amount_overflow);
  CHECK_THROWS_AS((void)credits::from_micros(INT64_MIN).scaled(1, -1), tollgate::amount_overflow);
  CHECK_THROWS_AS((void)(1_cr).scaled(1, 0), std::domain_error);
}

TEST_CASE("credits: arithmetic is checked: overflow throws amount_overflow, never wraps") {
  using tollgate::amount_overflow;
  const auto max = credits::from_micros(INT64_MAX);
  const auto min = credits::from_micros(INT64_MIN);
  static_assert(std::is_base_of_v<std::overflow_error, amount_overflow>);
  CHECK_THROWS_AS((void)(max + credits::from_micros(1)), amount_overflow);
  CHECK_THROWS_AS((void)(min - credits::from_micros(1)), amount_overflow);
  CHECK_THROWS_AS((void)(-min), amount_overflow);
  CHECK(-max == credits::from_micros(-INT64_MAX));
  CHECK_THROWS_AS((void)(max * 2), amount_overflow);
  CHECK_THROWS_AS((void)(2 * max), amount_overflow);
  CHECK_THROWS_AS((void)(min * -1), amount_overflow);
  CHECK_THROWS_AS((void)(0.000002_cr * (INT64_MAX / 2 + 1)), amount_overflow);  // per-token pricing, huge n
  CHECK((0.000002_cr * (INT64_MAX / 2)).micros() == INT64_MAX - 1);
  CHECK_THROWS_AS((void)credits::whole(INT64_MAX / 1'000'000 + 1), amount_overflow);
  CHECK(credits::whole(INT64_MAX / 1'000'000) == 9223372036854_cr);
  auto c = max;
  CHECK_THROWS_AS(c += credits::from_micros(1), amount_overflow);
  CHECK(c == max);  // unchanged after the refusal
  c = min;
  CHECK_THROWS_AS(c -= credits::from_micros(1), amount_overflow);
  CHECK(c == min);
  CHECK(max - max == credits{});
  CHECK(min + max == credits::from_micros(-1));
  // The non-throwing forms.
  CHECK_FALSE(credits::checked_add(max, credits::from_micros(1)));
  CHECK(credits::checked_add(max, credits::from_micros(-1)) == credits::from_micros(INT64_MAX - 1));
  CHECK_FALSE(credits::checked_sub(min, credits::from_micros(1)));
  CHECK_FALSE(credits::checked_mul(0.000002_cr, INT64_MAX));
  CHECK(credits::checked_mul(0.000002_cr, 3) == 0.000006_cr);
  static_assert(credits::checked_add(1_cr, 2_cr) == 3_cr);
  static_assert(!credits::checked_mul(credits::from_micros(INT64_MAX), 2));
  // Still constexpr: in a constant expression an overflow is a compile error, not a wrap.
  static_assert(9223372036854.775807_cr - 0.000001_cr == credits::from_micros(INT64_MAX - 1));
  static_assert(9223372036854.775807_cr == credits::from_micros(INT64_MAX));
  // Random operands against 128-bit arithmetic.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200'000; ++i) {
    const auto a = static_cast<std::int64_t>(rng()), b = static_cast<std::int64_t>(rng() >> (rng() % 64));
    const tollgate::detail::int128 sum = static_cast<tollgate::detail::int128>(a) + b, product = static_cast<tollgate::detail::int128>(a) * b;
    const bool sum_fits = sum >= INT64_MIN && sum <= INT64_MAX, product_fits = product >= INT64_MIN && product <= INT64_MAX;
    REQUIRE(credits::checked_add(credits::from_micros(a), credits::from_micros(b)).has_value() == sum_fits);
    REQUIRE(credits::checked_mul(credits::from_micros(a), b).has_value() == product_fits);
    if (sum_fits) REQUIRE((credits::from_micros(a) + credits::from_micros(b)).micros() == static_cast<std::int64_t>(sum));
    else REQUIRE_THROWS_AS((void)(credits::from_micros(a) + credits::from_micros(b)), amount_overflow);
    if (product_fits) REQUIRE((credits::from_micros(a) * b).micros() == static_cast<std::int64_t>(product));
    else REQUIRE_THROWS_AS((void)(credits::from_micros(a) * b), amount_overflow);
  }
}

TEST_CASE("credits: parse and to_string round-trip the whole range, both extremes included") {
  CHECK(credits::parse("-9223372036854.775808") == credits::from_micros(INT64_MIN));
  CHECK(credits::parse("9223372036854.775807") == credits::from_micros(INT64_MAX));
  CHECK_FALSE(credits::parse("9223372036854.775808"));
  CHECK_FALSE(credits::parse("-9223372036854.775809"));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 100'000; ++i) {
    const auto c = credits::from_micros(static_cast<std::int64_t>(rng() >> (rng() % 64)) * ((i & 1) ? -1 : 1));
    REQUIRE(credits::parse(c.to_string()) == c);
  }
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

TEST_CASE("credits: from_double rounds once, to the nearest micro-credit, halves away from zero") {
  // Both used to round twice (first to 7 decimals, then to 6).
  CHECK(credits::from_double(19.196078487237376) == credits::from_micros(19'196'078));
  CHECK(credits::from_double(0.00000049) == credits{});
  CHECK(credits::from_double(-0.00000049) == credits{});
  CHECK(credits::from_double(0.0000005) == credits::from_micros(1));     // a half: away from zero
  CHECK(credits::from_double(-0.0000005) == credits::from_micros(-1));
  CHECK(credits::from_double(2.0000025) == credits::from_micros(2'000'003));
  CHECK(credits::from_double(0.00000149999) == credits::from_micros(1));
  CHECK(credits::from_double(1e-300) == credits{});
  CHECK(credits::from_double(9223372036854.0) == credits::whole(9223372036854));
  CHECK_FALSE(credits::from_double(9223372036855.0));
  CHECK_FALSE(credits::from_double(-9223372036855.0));
  CHECK_FALSE(credits::from_double(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(credits::from_double(std::numeric_limits<double>::quiet_NaN()));
  // Against a reference: the double's exact binary value, printed in full by printf (glibc prints
  // it exactly), rounded at 6 decimals. The two differ only when the shortest text of the double is
  // itself an exact half (…5 at the 7th decimal): then the text's half rounds away from zero.
  std::mt19937_64 rng(19);
  std::uniform_int_distribution<int> exponent(-30, 33);  // below 2^33, where a double tells micro-credits apart
  int halves = 0;
  for (int i = 0; i < 100'000; ++i) {
    double d = std::ldexp(std::uniform_real_distribution<double>(0.5, 1.0)(rng), exponent(rng));
    if (i % 3 == 0) d = std::round(d * 1e7) / 1e7;  // many with exactly 7 decimals: near ties
    if (i & 1) d = -d;
    char exact[512];
    std::snprintf(exact, sizeof exact, "%.400f", d);
    std::string text(exact);
    const auto point = text.find('.');
    const bool negative = text[0] == '-';
    std::string digits = text.substr(negative ? 1 : 0, point - (negative ? 1 : 0)) + text.substr(point + 1, 6);
    tollgate::detail::int128 micros = 0;
    for (char ch : digits) micros = micros * 10 + (ch - '0');
    const char next = text[point + 7];
    if (next >= '5') ++micros;  // halves (exact in binary too) away from zero
    char shortest[64];
    auto end = std::to_chars(shortest, shortest + sizeof shortest, d).ptr;
    const std::string_view s(shortest, static_cast<std::size_t>(end - shortest));
    const auto got = credits::from_double(d);
    if (micros > INT64_MAX) { REQUIRE_FALSE(got); continue; }
    INFO("d = ", s, " exact ", text.substr(0, point + 12));
    REQUIRE(got.has_value());
    const auto expected = static_cast<std::int64_t>(negative ? -micros : micros);
    if (got->micros() != expected) {
      // Only a tie in the shortest text may round the other way.
      ++halves;
      REQUIRE(std::llabs(got->micros() - expected) == 1);
      auto seven = credits::parse(std::string(s));
      REQUIRE_FALSE(seven);
      char buffer[64];
      auto e2 = std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::fixed).ptr;
      const std::string fixed(buffer, e2);
      REQUIRE(fixed.size() - fixed.find('.') - 1 == 7);
      REQUIRE(fixed.back() == '5');
    }
  }
  MESSAGE("from_double vs exact binary reference: ", halves, " decimal ties rounded away from zero");
  // Above 2^33 credits it reads the double's shortest text: within half a step of the double.
  for (int i = 0; i < 10'000; ++i) {
    const double d = std::ldexp(std::uniform_real_distribution<double>(0.5, 1.0)(rng), 34 + i % 10) * ((i & 1) ? -1 : 1);
    const auto got = credits::from_double(d);
    if (std::fabs(d) > 9.2e12) continue;
    REQUIRE(got.has_value());
    REQUIRE(std::fabs(static_cast<double>(got->micros()) / 1e6 - d) <= std::ldexp(1.0, 43 - 52) + 1e-6);
  }
}
