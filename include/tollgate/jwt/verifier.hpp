// SPDX-License-Identifier: MIT
// jwt::verifier: verifies an HS256 JWT and its claims exactly as the billing-limits contract (PyJWT) does.
#ifndef TOLLGATE_JWT_VERIFIER_HPP
#define TOLLGATE_JWT_VERIFIER_HPP

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <tollgate/jwt/base64url.hpp>
#include <tollgate/jwt/hmac_sha256.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metrics/registry.hpp>

namespace tollgate::jwt {

/// What a token must satisfy besides its HS256 signature. The defaults are the billing contract's.
struct verify_options {
  /// Required audience: `aud` must equal it or be a list containing it. std::nullopt: `aud` is not checked.
  std::optional<std::string> audience = "worker";
  /// Required `ver` claim (a string). std::nullopt: `ver` is not checked.
  std::optional<std::string> version = "1";
  /// Clock tolerance for `exp`, `nbf` and `iat`.
  std::chrono::seconds leeway{0};
  /// The current Unix time in seconds; empty means the system clock. Injectable for tests.
  std::function<std::int64_t()> now{};
  /// Counts refusals in `tollgate_jwt_refusals_total{reason}` there (README "Metrics"); null: not counted.
  metrics::registry* metrics = nullptr;
};

/// The `reason` label of a refusal: a small fixed set, never the refusal's own words (a version
/// claim's value would otherwise become a label).
inline constexpr std::string_view refusal_reasons[] = {"no_secret", "malformed", "algorithm", "signature", "invalid_claim",
                                                       "not_yet_valid", "expired", "audience", "version"};

/// Which of `refusal_reasons` a refusal (verify_result::error) is.
[[nodiscard]] inline std::size_t refusal_reason_index(std::string_view error) noexcept {
  const auto starts = [&](std::string_view p) { return error.substr(0, p.size()) == p; };
  if (starts("No secret")) return 0;
  if (starts("The specified alg") || starts("Unsupported critical")) return 2;
  if (starts("Signature verification")) return 3;
  if (starts("The token is not yet valid")) return 5;
  if (starts("Signature has expired")) return 6;
  if (starts("Token is missing the \"aud\"") || starts("Audience")) return 7;
  if (starts("Unsupported token version")) return 8;
  if (error.find("claim") != std::string_view::npos) return 4;  // "... claim (iat) must be an integer.", "Invalid claim format"
  return 1;  // segments, padding, JSON
}

/// The outcome of `verifier::verify`: the claims, or the reason the token was refused.
struct verify_result {
  /// The token's claims (a JSON object) when valid; null otherwise.
  nlohmann::json claims;
  /// Why the token was refused, in the contract's words ("Signature has expired"); empty when valid.
  std::string error;

  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
  explicit operator bool() const noexcept { return ok(); }
};

namespace detail {
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return out;
}

/// A numeric claim read the way PyJWT's `int(value)` reads it: integers, floats (truncated), booleans
/// and decimal strings; std::nullopt for anything else. Out-of-range values saturate.
inline std::optional<std::int64_t> python_int(const nlohmann::json& v) {
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(hi) ? hi : static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    const double d = std::trunc(v.get<double>());
    if (!std::isfinite(d)) return std::nullopt;
    if (d >= 9.2233720368547758e18) return hi;
    if (d <= -9.2233720368547758e18) return lo;
    return static_cast<std::int64_t>(d);
  }
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_string()) {
    std::string_view s = v.get_ref<const std::string&>();
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
      negative = s.front() == '-';
      s.remove_prefix(1);
    }
    if (s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
    std::int64_t value = 0;
    bool saturated = false;
    char previous = '0';
    for (char c : s) {
      if (c == '_') {
        if (previous == '_') return std::nullopt;  // Python allows single underscores between digits
        previous = c;
        continue;
      }
      if (c < '0' || c > '9') return std::nullopt;
      previous = c;
      if (!saturated && (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value)))
        saturated = true;
    }
    if (saturated) return negative ? lo : hi;
    return negative ? -value : value;
  }
  return std::nullopt;
}

/// `str(value)` as Python prints a decoded JSON value, for "Unsupported token version: <value>".
inline std::string python_str(const nlohmann::json& v, bool nested = false) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "None";
    case nlohmann::json::value_t::boolean: return v.get<bool>() ? "True" : "False";
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (!nested) return s;
      std::string out = "'";
      for (char c : s) {
        if (c == '\\' || c == '\'') out += '\\';
        out += c;
      }
      return out + "'";
    }
    case nlohmann::json::value_t::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_str(v[i], true);
      return out + "]";
    }
    case nlohmann::json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, item] : v.items()) {
        out += (first ? "'" : ", '") + k + "': " + python_str(item, true);
        first = false;
      }
      return out + "}";
    }
    default: return v.dump();
  }
}

inline std::int64_t system_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()).time_since_epoch().count();
}
}  // namespace detail

/// Verifies HS256 JWTs with a shared secret. The algorithm is pinned to HS256 whatever the token's
/// header says; the signature is compared in constant time; claims are checked in the contract's
/// order (iat, nbf, exp, aud, ver). The secret is held as `redacted`, so it never prints.
///
///     tollgate::jwt::verifier v{tollgate::redacted{secret}};
///     if (auto r = v.verify(token)) use(r.claims["sub"]); else reject(r.error);
class verifier {
 public:
  explicit verifier(redacted secret, verify_options options = {})
      : secret_(std::move(secret)), options_(std::move(options)) {
    if (options_.leeway < std::chrono::seconds::zero())
      throw std::invalid_argument("tollgate::jwt::verifier: the leeway must not be negative");
    if (options_.metrics) {
      auto& family = options_.metrics->counter("tollgate_jwt_refusals_total", "JWTs refused, by reason.", {"reason"});
      for (std::size_t i = 0; i < std::size(refusal_reasons); ++i) refusals_[i] = &family.with({refusal_reasons[i]});
    }
  }

  /// False when the secret is empty: such a verifier refuses every token.
  [[nodiscard]] bool has_secret() const noexcept { return !secret_.empty(); }
  [[nodiscard]] const verify_options& options() const noexcept { return options_; }
  [[nodiscard]] const redacted& secret() const noexcept { return secret_; }

  /// Verifies `token` (the part after `Bearer `). Reasons are PyJWT's words (see the contract).
  [[nodiscard]] verify_result verify(std::string_view token) const {
    verify_result r = check(token);
    if (!r && refusals_[0] != nullptr) refusals_[refusal_reason_index(r.error)]->inc();
    return r;
  }

 private:
  [[nodiscard]] verify_result check(std::string_view token) const {
    auto fail = [](std::string reason) { return verify_result{nullptr, std::move(reason)}; };
    if (!has_secret()) return fail("No secret configured");

    const auto first_dot = token.find('.');
    const auto last_dot = token.rfind('.');
    if (first_dot == std::string_view::npos || first_dot == last_dot ||
        token.find('.', first_dot + 1) != last_dot)
      return fail("Not enough segments");
    const auto header_segment = token.substr(0, first_dot);
    const auto payload_segment = token.substr(first_dot + 1, last_dot - first_dot - 1);
    const auto signature_segment = token.substr(last_dot + 1);

    const auto header_bytes = base64url_decode(header_segment);
    if (!header_bytes) return fail("Invalid header padding");
    const auto header = nlohmann::json::parse(*header_bytes, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) return fail("Invalid header string: not valid JSON");
    if (!header.is_object()) return fail("Invalid header string: must be a json object");
    const auto payload_bytes = base64url_decode(payload_segment);
    if (!payload_bytes) return fail("Invalid payload padding");
    const auto signature = base64url_decode(signature_segment);
    if (!signature) return fail("Invalid crypto padding");

    // The header's alg is checked, never obeyed: only HS256 is computed (no "none", no HS512, no RS256).
    const auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256")
      return fail("The specified alg value is not allowed");
    // RFC 7515 §4.1.11: a token marking an extension critical must be refused by a verifier that
    // does not implement it, and this one implements none.
    if (header.contains("crit")) return fail("Unsupported critical header parameter (crit)");
    const auto signing_input = token.substr(0, last_dot);
    if (!constant_time_equal(hmac_sha256(secret_.reveal(), signing_input), *signature))
      return fail("Signature verification failed");

    // Only a signed payload is parsed.
    auto claims = nlohmann::json::parse(*payload_bytes, nullptr, /*allow_exceptions=*/false);
    if (claims.is_discarded()) return fail("Invalid payload string: not valid JSON");
    if (!claims.is_object()) return fail("Invalid payload string: must be a json object");

    const std::int64_t now = options_.now ? options_.now() : detail::system_now();
    const std::int64_t leeway = options_.leeway.count();
    if (auto it = claims.find("iat"); it != claims.end()) {
      const auto iat = detail::python_int(*it);
      if (!iat) return fail("Issued At claim (iat) must be an integer.");
      if (*iat > detail::saturating_add(now, leeway)) return fail("The token is not yet valid (iat)");
    }
    if (auto it = claims.find("nbf"); it != claims.end()) {
      const auto nbf = detail::python_int(*it);
      if (!nbf) return fail("Not Before claim (nbf) must be an integer.");
      if (*nbf > detail::saturating_add(now, leeway)) return fail("The token is not yet valid (nbf)");
    }
    if (auto it = claims.find("exp"); it != claims.end()) {
      const auto exp = detail::python_int(*it);
      if (!exp) return fail("Expiration Time claim (exp) must be an integer.");
      if (*exp <= detail::saturating_add(now, -leeway)) return fail("Signature has expired");
    }
    if (options_.audience) {
      const auto aud = claims.find("aud");
      // PyJWT: `if "aud" not in payload or not payload["aud"]` — a falsy value counts as missing.
      const auto falsy = [](const nlohmann::json& v) {
        return v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v.get<double>() == 0.0) ||
               (v.is_string() && v.get_ref<const std::string&>().empty()) || ((v.is_array() || v.is_object()) && v.empty());
      };
      if (aud == claims.end() || falsy(*aud)) return fail("Token is missing the \"aud\" claim");
      bool matches = false;
      if (aud->is_string()) {
        matches = aud->get_ref<const std::string&>() == *options_.audience;
      } else if (aud->is_array()) {
        for (const auto& item : *aud) {
          if (!item.is_string()) return fail("Invalid claim format in token");
          matches = matches || item.get_ref<const std::string&>() == *options_.audience;
        }
      } else {
        return fail("Invalid claim format in token");
      }
      if (!matches) return fail("Audience doesn't match");
    }
    if (options_.version) {
      const auto ver = claims.find("ver");
      if (ver == claims.end()) return fail("Unsupported token version: None");
      if (!ver->is_string() || ver->get_ref<const std::string&>() != *options_.version)
        return fail("Unsupported token version: " + detail::python_str(*ver));
    }
    return verify_result{std::move(claims), {}};
  }

  redacted secret_;
  verify_options options_;
  metrics::counter* refusals_[std::size(refusal_reasons)]{};  // null unless options.metrics was set
};

}  // namespace tollgate::jwt

#endif  // TOLLGATE_JWT_VERIFIER_HPP
