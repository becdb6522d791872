// SPDX-License-Identifier: MIT
// tollgate::credits: an exact fixed-point amount of credits (millionths), usable as a template argument.
#ifndef TOLLGATE_CREDITS_HPP
#define TOLLGATE_CREDITS_HPP

#include <charconv>
#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include <tollgate/detail/text_formatter.hpp>

namespace tollgate {

/// Thrown when an amount of credits would leave the int64 micro-credit range: arithmetic on
/// `credits` never wraps and is never undefined. In a constant expression it is a compile error.
///
///     try { auto total = price * tokens; } catch (const tollgate::amount_overflow& e) { /* refuse */ }
class amount_overflow : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

namespace detail {
// 128-bit intermediates keep rate × quantity exact; __extension__ keeps -Wpedantic quiet about it.
__extension__ using int128 = __int128;

[[noreturn]] inline void throw_amount_overflow(const char* what) {
  throw amount_overflow(std::string("tollgate::credits: ") + what + " overflows the int64 micro-credit range");
}

// A decimal ("12", "-0.5", "1.234567", "4.9e-07") in micro-credits. Exact mode fails on a non-zero
// digit past the 6th decimal; rounding mode rounds once to the nearest micro-credit, halves away
// from zero. nullopt on junk or when the result is outside [INT64_MIN, INT64_MAX].
constexpr std::optional<std::int64_t> decimal_to_micros(std::string_view text, bool round) noexcept {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  std::size_t i = 0;
  if (text[i] == '-' || text[i] == '+') { negative = text[i] == '-'; ++i; }
  // Collect digits as an integer mantissa with a decimal exponent: value = mantissa × 10^exp10.
  int128 mantissa = 0;
  int exp10 = 0;
  bool any_digit = false, seen_point = false;
  constexpr int128 cap = static_cast<int128>(1) << 100;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (mantissa < cap) {
        mantissa = mantissa * 10 + (c - '0');
        if (seen_point) --exp10;
      } else if (!seen_point) {
        return std::nullopt;  // far too large
      } else if (c != '0') {
        if (!round) return std::nullopt;  // precision beyond what we keep
      }  // (rounding mode: 30 digits in, these lie far below the micro-credit and cannot decide)
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else if (c == 'e' || c == 'E') {
      break;
    } else {
      return std::nullopt;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < text.size()) {  // exponent part
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) { exp_negative = text[i] == '-'; ++i; }
    if (i >= text.size()) return std::nullopt;
    int e = 0;
    for (; i < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      if (e > 1000) return std::nullopt;
      e = e * 10 + (text[i] - '0');
    }
    exp10 += exp_negative ? -e : e;
  }
  exp10 += 6;  // express in micro-credits
  // Digits below the micro-credit: in exact mode they must be zeros. Rounding to nearest with
  // halves away from zero rounds the magnitude up exactly when the first dropped digit is ≥ 5.
  int rounding_digit = 0;
  while (exp10 < 0) {
    rounding_digit = static_cast<int>(mantissa % 10);
    if (!round && rounding_digit != 0) return std::nullopt;  // would lose a non-zero digit
    mantissa /= 10;
    ++exp10;
    if (mantissa == 0 && exp10 < 0) { rounding_digit = 0; exp10 = 0; }  // the digits left are zeros
  }
  if (rounding_digit >= 5) mantissa += 1;
  const int128 limit = negative ? int128{1} << 63 : (int128{1} << 63) - 1;
  while (exp10 > 0) {
    if (mantissa > limit) return std::nullopt;
    mantissa *= 10;
    --exp10;
  }
  if (mantissa > limit) return std::nullopt;
  return static_cast<std::int64_t>(negative ? -mantissa : mantissa);
}
}  // namespace detail

/// An exact amount of credits, counted in millionths (micro-credits). No floating point anywhere:
/// sums, splits and comparisons are integer arithmetic, so a balance never drifts. Arithmetic is
/// checked: a result outside the int64 micro-credit range throws `amount_overflow`, never wraps;
/// `checked_add`/`checked_sub`/`checked_mul` answer std::nullopt instead.
///
///     using namespace tollgate::literals;
///     constexpr tollgate::credits price = 0.15_cr;        // exactly 150'000 micro-credits
///     auto parsed = tollgate::credits::parse("2.5");      // std::optional<credits>
///     fmt::print("{}", price);                            // 0.15
///
/// The member is public only because C++20 requires it of a type used as a template argument
/// (`fixed_cost<2.5_cr>`); treat it as read-only and prefer `micros()`.
struct credits {
  static constexpr std::int64_t scale = 1'000'000;  ///< micro-credits per credit
  static constexpr int decimals = 6;

  std::int64_t value = 0;  ///< in micro-credits

  [[nodiscard]] static constexpr credits from_micros(std::int64_t micros) noexcept { return credits{micros}; }
  /// `units` whole credits; throws amount_overflow beyond ±9'223'372'036'854 credits.
  [[nodiscard]] static constexpr credits whole(std::int64_t units) {
    std::int64_t micros = 0;
    if (__builtin_mul_overflow(units, scale, &micros)) detail::throw_amount_overflow("whole()");
    return credits{micros};
  }
  [[nodiscard]] static constexpr credits zero() noexcept { return credits{0}; }

  [[nodiscard]] constexpr std::int64_t micros() const noexcept { return value; }
  [[nodiscard]] constexpr bool is_negative() const noexcept { return value < 0; }

  friend constexpr auto operator<=>(credits, credits) noexcept = default;
  friend constexpr bool operator==(credits, credits) noexcept = default;

  /// `a + b`, or std::nullopt when it is outside the range.
  [[nodiscard]] static constexpr std::optional<credits> checked_add(credits a, credits b) noexcept {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a.value, b.value, &r)) return std::nullopt;
    return credits{r};
  }
  /// `a - b`, or std::nullopt when it is outside the range.
  [[nodiscard]] static constexpr std::optional<credits> checked_sub(credits a, credits b) noexcept {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(a.value, b.value, &r)) return std::nullopt;
    return credits{r};
  }
  /// `a × n`, or std::nullopt when it is outside the range.
  [[nodiscard]] static constexpr std::optional<credits> checked_mul(credits a, std::int64_t n) noexcept {
    std::int64_t r = 0;
    if (__builtin_mul_overflow(a.value, n, &r)) return std::nullopt;
    return credits{r};
  }

  friend constexpr credits operator+(credits a, credits b) {
    if (auto r = checked_add(a, b)) return *r;
    detail::throw_amount_overflow("+");
  }
  friend constexpr credits operator-(credits a, credits b) {
    if (auto r = checked_sub(a, b)) return *r;
    detail::throw_amount_overflow("-");
  }
  friend constexpr credits operator-(credits a) { return credits{} - a; }
  constexpr credits& operator+=(credits b) { return *this = *this + b; }
  constexpr credits& operator-=(credits b) { return *this = *this - b; }
  friend constexpr credits operator*(credits a, std::int64_t n) {
    if (auto r = checked_mul(a, n)) return *r;
    detail::throw_amount_overflow("*");
  }
  friend constexpr credits operator*(std::int64_t n, credits a) { return a * n; }

  /// `*this × numerator / denominator`, rounded to the nearest micro-credit (halves away from zero).
  /// This is how rates apply: 0.1 credit per KB over 1536 bytes is `(0.1_cr).scaled(1536, 1024)`.
  /// Exact in 128 bits; a result outside the range throws amount_overflow (it used to saturate).
  [[nodiscard]] constexpr credits scaled(std::int64_t numerator, std::int64_t denominator) const {
    if (denominator == 0) throw std::domain_error("tollgate::credits::scaled: zero denominator");
    detail::int128 product = static_cast<detail::int128>(value) * numerator;  // |product| ≤ 2^126
    detail::int128 d = denominator;  // in 128 bits, so -INT64_MIN is fine
    if (d < 0) { product = -product; d = -d; }
    const detail::int128 half = d / 2;
    const detail::int128 q = product >= 0 ? (product + half) / d : -((-product + half) / d);
    if (q > std::numeric_limits<std::int64_t>::max() || q < std::numeric_limits<std::int64_t>::min())
      detail::throw_amount_overflow("scaled()");
    return credits{static_cast<std::int64_t>(q)};
  }

  /// Parses a plain decimal ("12", "-0.5", "1.234567"); also accepts an exponent ("1e-06") as JSON
  /// numbers may carry one. Fails on more than 6 decimals that are not zeros, junk, or overflow.
  /// Every amount's to_string() parses back to it, INT64_MIN micro-credits included.
  [[nodiscard]] static constexpr std::optional<credits> parse(std::string_view text) noexcept {
    if (auto micros = detail::decimal_to_micros(text, false)) return credits{*micros};
    return std::nullopt;
  }

  /// Like parse(), but a string that is not an amount throws std::invalid_argument.
  [[nodiscard]] static credits parse_or_throw(std::string_view text) {
    if (auto c = parse(text)) return *c;
    throw std::invalid_argument("not a credit amount (a decimal with at most 6 decimals): '" +
                                std::string(text) + "'");
  }

  /// The shortest exact decimal: "1", "0.5", "-2.000001".
  [[nodiscard]] std::string to_string() const {
    std::string out;
    const bool negative = value < 0;
    // Work on the unsigned magnitude so INT64_MIN formats too.
    const auto magnitude = negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    const std::uint64_t units = magnitude / scale;
    std::uint64_t fraction = magnitude % scale;
    if (negative) out.push_back('-');
    out += std::to_string(units);
    if (fraction != 0) {
      char digits[decimals];
      for (int k = decimals - 1; k >= 0; --k) { digits[k] = static_cast<char>('0' + fraction % 10); fraction /= 10; }
      int used = decimals;
      while (used > 0 && digits[used - 1] == '0') --used;
      out.push_back('.');
      out.append(digits, static_cast<std::size_t>(used));
    }
    return out;
  }

  /// The nearest double, for JSON output: micro-credits / 10^6 is correctly rounded, so the
  /// shortest round-trip form of the result prints the exact decimal (for |amount| < 2^53 µcr).
  [[nodiscard]] constexpr double to_double() const noexcept {
    return static_cast<double>(value) / static_cast<double>(scale);
  }

  /// The amount a JSON number (a double) stands for: the double's shortest round-trip text
  /// (std::to_chars), rounded ONCE to the nearest micro-credit, halves away from zero, in decimal
  /// arithmetic. So 0.1 is exactly 100'000 µcr, 0.0000015 is 2 µcr and 19.196078487237376 is
  /// 19.196078. nullopt for NaN, infinities and amounts outside the int64 micro-credit range.
  /// Exact for every amount below 2^33 credits (to_double() of it comes back); above, a double
  /// no longer tells neighbouring micro-credits apart.
  [[nodiscard]] static std::optional<credits> from_double(double d) noexcept {
    if (!(d == d) || d > 1e13 || d < -1e13) return std::nullopt;
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
    if (ec != std::errc{}) return std::nullopt;
    if (auto micros = detail::decimal_to_micros(std::string_view(buffer, static_cast<std::size_t>(end - buffer)), true))
      return credits{*micros};
    return std::nullopt;
  }
};

namespace detail {
enum class credits_literal_problem { none, not_a_plain_decimal, too_large };

struct parsed_credits_literal {
  std::int64_t micros = 0;
  credits_literal_problem problem = credits_literal_problem::none;
};

// Always a constant, even for bad input: the literal operator then refuses it with a static_assert
// that names the rule, and that message is the only error.
template <char... Chars>
constexpr parsed_credits_literal parse_credits_literal() {
  constexpr char text[] = {Chars...};
  std::int64_t units = 0, fraction = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  for (char c : text) {
    if (c == '\'') continue;
    if (c == '.' && !seen_point) { seen_point = true; continue; }
    if (c < '0' || c > '9') return {0, credits_literal_problem::not_a_plain_decimal};
    if (seen_point) {
      if (++fraction_digits > credits::decimals) return {0, credits_literal_problem::not_a_plain_decimal};
      fraction = fraction * 10 + (c - '0');
    } else {
      if (units > (std::numeric_limits<std::int64_t>::max() / credits::scale - (c - '0')) / 10)
        return {0, credits_literal_problem::too_large};
      units = units * 10 + (c - '0');
    }
  }
  for (int k = fraction_digits; k < credits::decimals; ++k) fraction *= 10;
  if (units * credits::scale > std::numeric_limits<std::int64_t>::max() - fraction) return {0, credits_literal_problem::too_large};
  return {units * credits::scale + fraction, credits_literal_problem::none};
}
}  // namespace detail

namespace literals {


/// `5.0_cr`, `0.15_cr`, `3_cr`: parsed at compile time, exactly. More than 6 decimals, an exponent
/// or a hexadecimal literal is a compile error that names the rule.
/// (A literal operator template with a constexpr local, not consteval: clang 14 mis-handles
/// consteval literals inside generic lambdas.)
template <char... Chars>
constexpr credits operator""_cr() {
  constexpr detail::parsed_credits_literal parsed = detail::parse_credits_literal<Chars...>();
  static_assert(parsed.problem != detail::credits_literal_problem::not_a_plain_decimal,
                "tollgate: credits_literal_must_be_a_plain_decimal_with_at_most_6_decimals "
                "(no exponent, no hexadecimal, nothing finer than a micro-credit)");
  static_assert(parsed.problem != detail::credits_literal_problem::too_large,
                "tollgate: credits_literal_is_too_large: it must fit the int64 micro-credit range");
  return credits{parsed.micros};  // zero after a refusal: a constant still, so no second error follows
}

}  // namespace literals

using namespace literals;  // NOLINT: the literal is part of tollgate's vocabulary.

}  // namespace tollgate

/// Formats as the exact decimal: fmt::format("{}", 2.5_cr) == "2.5".
template <>
struct fmt::formatter<tollgate::credits> : tollgate::detail::text_formatter {
  template <typename FormatContext>
  auto format(tollgate::credits c, FormatContext& ctx) const -> decltype(ctx.out()) {
    return write(c.to_string(), ctx);
  }
};

#endif  // TOLLGATE_CREDITS_HPP
