// SPDX-License-Identifier: MIT
// The signature_scheme concept: how a billing provider signs its webhook deliveries (Stripe, Orb, ...).
#ifndef TOLLGATE_WEBHOOKS_SIGNATURE_SCHEME_HPP
#define TOLLGATE_WEBHOOKS_SIGNATURE_SCHEME_HPP

#include <chrono>
#include <concepts>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/http/request.hpp>
#include <tollgate/logging/redacted.hpp>

namespace tollgate::webhooks {

/// The tag a scheme opts in with: `using signature_scheme_concept = tollgate::webhooks::signature_scheme_t;`.
struct signature_scheme_t {};

/// What a scheme found in one delivery. `message` goes into the reply's `detail`: it never holds
/// the secret nor the expected signature.
struct signature_check {
  enum class kind {
    verified,         ///< a signature matches and the timestamp is within the tolerance
    missing_header,   ///< a header the scheme needs is absent
    malformed,        ///< a header is present but unreadable (no timestamp, not a number ...)
    stale,            ///< the signed timestamp is too old or too far in the future
    bad_signature,    ///< no signature matches the body under the secret
  };
  kind outcome = kind::bad_signature;
  std::string message;
  /// kind::verified: when the provider signed the delivery.
  std::chrono::system_clock::time_point signed_at{};

  [[nodiscard]] bool ok() const noexcept { return outcome == kind::verified; }
  [[nodiscard]] static signature_check verified(std::chrono::system_clock::time_point at) { return {kind::verified, {}, at}; }
  [[nodiscard]] static signature_check refused(kind why, std::string message) { return {why, std::move(message), {}}; }
};

/// What a scheme is given to check: the request's headers, its raw body byte for byte, the
/// endpoint's secret, the current time and the accepted clock difference.
struct signed_delivery {
  const request_ref& request;
  std::string_view raw_body;
  const redacted& secret;
  std::chrono::system_clock::time_point now;
  std::chrono::seconds tolerance;
};

/// A webhook signature scheme. Requirements, for `const S& s` and `const signed_delivery& d`:
///   1. `typename S::signature_scheme_concept` is `tollgate::webhooks::signature_scheme_t` (explicit opt-in);
///   2. `S::name` is a `std::string_view` constant naming the provider, for logs ("stripe");
///   3. `s.verify(d)` → `signature_check`: `verified` only when a signature computed with
///      HMAC (OpenSSL) over the provider's signed payload matches one in the headers, compared in
///      constant time, and the signed timestamp is within `d.tolerance` of `d.now` either way;
///   4. `verify` never throws on any input and is safe to call from several threads at once;
///   5. `S` is default-constructible.
/// Provided: `stripe_signature` and `orb_signature`.
template <class S>
concept signature_scheme = requires { typename S::signature_scheme_concept; } &&
                           std::same_as<typename S::signature_scheme_concept, signature_scheme_t> &&
                           std::default_initializable<S> &&
                           requires(const S& s, const signed_delivery& d) {
                             { S::name } -> std::convertible_to<std::string_view>;
                             { s.verify(d) } -> std::same_as<signature_check>;
                           };

namespace detail {
/// Each requirement of `signature_scheme` on its own, so a failure names the missing piece (one message).
template <class S>
constexpr bool check_signature_scheme() {
  constexpr bool opts_in = requires { requires std::same_as<typename S::signature_scheme_concept, signature_scheme_t>; };
  constexpr bool has_name = requires { { S::name } -> std::convertible_to<std::string_view>; };
  constexpr bool has_verify = requires(const S& s, const signed_delivery& d) { s.verify(d); };
  constexpr bool verify_returns_check = requires(const S& s, const signed_delivery& d) { { s.verify(d) } -> std::same_as<signature_check>; };
  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this signature scheme does not opt in: add `using signature_scheme_concept = tollgate::webhooks::signature_scheme_t;`");
    return false;
  } else if constexpr (!has_name) {
    static_assert(has_name, "tollgate: this signature scheme is missing `static constexpr std::string_view name`");
    return false;
  } else if constexpr (!has_verify) {
    static_assert(has_verify, "tollgate: this signature scheme is missing `verify(const signed_delivery&) const`");
    return false;
  } else if constexpr (!verify_returns_check) {
    static_assert(verify_returns_check, "tollgate: a signature scheme's `verify(...)` must return tollgate::webhooks::signature_check");
    return false;
  } else if constexpr (!std::default_initializable<S>) {
    static_assert(std::default_initializable<S>, "tollgate: a signature scheme must be default-constructible");
    return false;
  } else {
    return true;
  }
}

/// Lower-case hex of raw bytes: how both providers write an HMAC.
[[nodiscard]] inline std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(digits[u >> 4]);
    out.push_back(digits[u & 0xF]);
  }
  return out;
}
}  // namespace detail

}  // namespace tollgate::webhooks

#endif  // TOLLGATE_WEBHOOKS_SIGNATURE_SCHEME_HPP
