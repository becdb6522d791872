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

#include <fmt/format.h>

namespace tollgate {

namespace detail {
// 128-bit intermediates keep rate × quantity exact; __extension__ keeps -Wpedantic quiet about it.
__extension__ using int128 = __int128;

// Called only from consteval code on bad input: the compiler then names this function in its error.
inline void credits_literal_must_be_a_plain_decimal_with_at_most_6_decimals() {}
inline void credits_literal_is_too_large() {}
}  // namespace detail

/// An exact amount of credits, counted in millionths (micro-credits). No floating point anywhere:
/// sums, splits and comparisons are integer arithmetic, so a balance never drifts.
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
  [[nodiscard]] static constexpr credits whole(std::int64_t units) noexcept { return credits{units * scale}; }
  [[nodiscard]] static constexpr credits zero() noexcept { return credits{0}; }

  [[nodiscard]] constexpr std::int64_t micros() const noexcept { return value; }
  [[nodiscard]] constexpr bool is_negative() const noexcept { return value < 0; }

  friend constexpr auto operator<=>(credits, credits) noexcept = default;
  friend constexpr bool operator==(credits, credits) noexcept = default;

  friend constexpr credits operator+(credits a, credits b) noexcept { return credits{a.value + b.value}; }
  friend constexpr credits operator-(credits a, credits b) noexcept { return credits{a.value - b.value}; }
  friend constexpr credits operator-(credits a) noexcept { return credits{-a.value}; }
  constexpr credits& operator+=(credits b) noexcept { value += b.value; return *this; }
  constexpr credits& operator-=(credits b) noexcept { value -= b.value; return *this; }
  friend constexpr credits operator*(credits a, std::int64_t n) noexcept { return credits{a.value * n}; }
  friend constexpr credits operator*(std::int64_t n, credits a) noexcept { return credits{a.value * n}; }

  /// `*this × numerator / denominator`, rounded to the nearest micro-credit (halves away from zero).
  /// This is how rates apply: 0.1 credit per KB over 1536 bytes is `(0.1_cr).scaled(1536, 1024)`.
  /// Saturates instead of overflowing.
  [[nodiscard]] constexpr credits scaled(std::int64_t numerator, std::int64_t denominator) const {
    if (denominator == 0) throw std::domain_error("tollgate::credits::scaled: zero denominator");
    detail::int128 product = static_cast<detail::int128>(value) * numerator;
    if (denominator < 0) { product = -product; denominator = -denominator; }
    const detail::int128 half = denominator / 2;
    detail::int128 q = product >= 0 ? (product + half) / denominator : -((-product + half) / denominator);
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    if (q > max) q = max;
    if (q < min) q = min;
    return credits{static_cast<std::int64_t>(q)};
  }

  /// Parses a plain decimal ("12", "-0.5", "1.234567"); also accepts an exponent ("1e-06") as JSON
  /// numbers may carry one. Fails on more than 6 decimals that are not zeros, junk, or overflow.
  [[nodiscard]] static constexpr std::optional<credits> parse(std::string_view text) noexcept {
    if (text.empty()) return std::nullopt;
    bool negative = false;
    std::size_t i = 0;
    if (text[i] == '-' || text[i] == '+') { negative = text[i] == '-'; ++i; }
    // Collect digits as an integer mantissa with a decimal exponent: value = mantissa × 10^exp10.
    detail::int128 mantissa = 0;
    int exp10 = 0;
    bool any_digit = false, seen_point = false;
    constexpr detail::int128 cap = static_cast<detail::int128>(1) << 100;
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
          return std::nullopt;  // precision beyond what we keep
        }
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
    exp10 += decimals;  // express in micro-credits
    while (exp10 < 0) {
      if (mantissa % 10 != 0) return std::nullopt;  // would lose a non-zero digit
      mantissa /= 10;
      ++exp10;
    }
    while (exp10 > 0) {
      if (mantissa > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
      mantissa *= 10;
      --exp10;
    }
    if (mantissa > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
    const auto micros = static_cast<std::int64_t>(mantissa);
    return credits{negative ? -micros : micros};
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

  /// The amount a JSON number (a double) stands for: the double's shortest round-trip text is
  /// parsed as a decimal, so 0.1 becomes exactly 100'000 µcr. Rounds to the nearest micro-credit
  /// when the number carries more than 6 decimals; nullopt for NaN, infinities and overflow.
  [[nodiscard]] static std::optional<credits> from_double(double d) noexcept {
    if (!(d == d) || d > 9.2e12 || d < -9.2e12) return std::nullopt;
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
    if (ec != std::errc{}) return std::nullopt;
    std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
    if (auto exact = parse(text)) return exact;
    // More than 6 decimals: round half away from zero at the 7th decimal, in decimal arithmetic.
    auto [end7, ec7] = std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::fixed, 7);
    if (ec7 != std::errc{}) return std::nullopt;
    std::string fixed7(buffer, end7);
    const char last = fixed7.back();
    fixed7.pop_back();
    auto truncated = parse(fixed7);
    if (!truncated) return std::nullopt;
    if (last >= '5') *truncated += credits{fixed7.front() == '-' ? -1 : 1};
    return truncated;
  }
};

namespace detail {
template <char... Chars>
constexpr credits parse_credits_literal() {
  constexpr char text[] = {Chars...};
  std::int64_t units = 0, fraction = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  for (char c : text) {
    if (c == '\'') continue;
    if (c == '.' && !seen_point) { seen_point = true; continue; }
    if (c < '0' || c > '9') credits_literal_must_be_a_plain_decimal_with_at_most_6_decimals();
    if (seen_point) {
      if (++fraction_digits > credits::decimals) credits_literal_must_be_a_plain_decimal_with_at_most_6_decimals();
      fraction = fraction * 10 + (c - '0');
    } else {
      if (units > std::numeric_limits<std::int64_t>::max() / 10 / credits::scale) credits_literal_is_too_large();
      units = units * 10 + (c - '0');
    }
  }
  for (int k = fraction_digits; k < credits::decimals; ++k) fraction *= 10;
  return credits{units * credits::scale + fraction};
}
}  // namespace detail

namespace literals {


/// `5.0_cr`, `0.15_cr`, `3_cr`: parsed at compile time, exactly. More than 6 decimals, an exponent
/// or a hexadecimal literal is a compile error that names the rule.
/// (A literal operator template with a constexpr local, not consteval: clang 14 mis-handles
/// consteval literals inside generic lambdas.)
template <char... Chars>
constexpr credits operator""_cr() {
  constexpr credits amount = detail::parse_credits_literal<Chars...>();
  return amount;
}

}  // namespace literals

using namespace literals;  // NOLINT: the literal is part of tollgate's vocabulary.

}  // namespace tollgate

/// Formats as the exact decimal: fmt::format("{}", 2.5_cr) == "2.5".
template <>
struct fmt::formatter<tollgate::credits> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(tollgate::credits c, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = c.to_string();
    return fmt::formatter<std::string_view>::format(std::string_view(text), ctx);
  }
};

#endif  // TOLLGATE_CREDITS_HPP
