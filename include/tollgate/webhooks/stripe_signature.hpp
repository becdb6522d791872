// SPDX-License-Identifier: MIT
// stripe_signature: Stripe's `Stripe-Signature: t=…,v1=…` webhook signature scheme.
#ifndef TOLLGATE_WEBHOOKS_STRIPE_SIGNATURE_HPP
#define TOLLGATE_WEBHOOKS_STRIPE_SIGNATURE_HPP

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tollgate/detail/hmac_sha256.hpp>
#include <tollgate/webhooks/signature_scheme.hpp>

namespace tollgate::webhooks {

/// Stripe's scheme, as its documentation ("Verify signatures manually") and its SDKs have it:
/// the header `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`; the signed
/// payload is `<t>.<raw body>`; HMAC-SHA256 keyed with the endpoint secret (`whsec_…`, used as
/// is, not decoded); any `v1` that matches is accepted (several appear while a secret is rolled);
/// other schemes (`v0`: test-mode) are ignored. Unlike Stripe's SDKs, which reject only old
/// timestamps, a timestamp further than the tolerance in the future is refused too.
struct stripe_signature {
  using signature_scheme_concept = signature_scheme_t;
  static constexpr std::string_view name = "stripe";
  static constexpr std::string_view header = "Stripe-Signature";

  [[nodiscard]] signature_check verify(const signed_delivery& d) const {
    using kind = signature_check::kind;
    try {
      const auto value = d.request.header(header);
      if (!value) return signature_check::refused(kind::missing_header, "Missing Stripe-Signature header");
      std::optional<std::int64_t> timestamp;
      std::vector<std::string_view> candidates;
      std::string_view rest = *value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = item.substr(0, eq);
        const std::string_view val = item.substr(eq + 1);
        if (key == "t") timestamp = parse_seconds(val);
        else if (key == "v1") candidates.push_back(val);
      }
      if (!timestamp) return signature_check::refused(kind::malformed, "Unable to extract timestamp and signatures from header");
      if (candidates.empty()) return signature_check::refused(kind::malformed, "No signatures found with expected scheme v1");

      const std::string signed_payload = std::to_string(*timestamp) + "." + std::string(d.raw_body);
      const std::string expected = detail::to_hex(::tollgate::detail::hmac_sha256(d.secret.reveal(), signed_payload));
      bool matched = false;
      for (auto candidate : candidates) matched |= ::tollgate::detail::constant_time_equal(expected, candidate);
      if (!matched) return signature_check::refused(kind::bad_signature, "No signatures found matching the expected signature for payload");

      const std::chrono::system_clock::time_point signed_at{std::chrono::seconds(*timestamp)};
      if (signed_at < d.now - d.tolerance) return signature_check::refused(kind::stale, "Timestamp outside the tolerance zone (too old)");
      if (signed_at > d.now + d.tolerance) return signature_check::refused(kind::stale, "Timestamp outside the tolerance zone (in the future)");
      return signature_check::verified(signed_at);
    } catch (...) {  // bad_alloc, OpenSSL failure: refuse, never crash the server
      return signature_check::refused(kind::bad_signature, "Signature verification failed");
    }
  }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }
  // Unix seconds: 1 to 12 digits (far beyond any real date, far below int64 overflow).
  static std::optional<std::int64_t> parse_seconds(std::string_view digits) {
    if (digits.empty() || digits.size() > 12) return std::nullopt;
    std::int64_t value = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  }
};
static_assert(signature_scheme<stripe_signature>);

}  // namespace tollgate::webhooks

#endif  // TOLLGATE_WEBHOOKS_STRIPE_SIGNATURE_HPP
