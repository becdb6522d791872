// SPDX-License-Identifier: MIT
// orb_signature: Orb's `X-Orb-Timestamp` + `X-Orb-Signature: v1=…` webhook signature scheme.
#ifndef TOLLGATE_WEBHOOKS_ORB_SIGNATURE_HPP
#define TOLLGATE_WEBHOOKS_ORB_SIGNATURE_HPP

#include <chrono>
#include <string>
#include <string_view>

#include <tollgate/detail/hmac_sha256.hpp>
#include <tollgate/detail/iso8601.hpp>
#include <tollgate/webhooks/signature_scheme.hpp>

namespace tollgate::webhooks {

/// Orb's scheme, as its official SDKs (orb-billing for Node, orb-go, orb-python) verify it:
/// `X-Orb-Timestamp` is an ISO 8601 time, UTC when it has no zone (`2024-03-27T15:42:29.551`);
/// `X-Orb-Signature` is `v1=<hex>` (several, space-separated, are accepted as the Node SDK does);
/// the signed payload is `v1:<X-Orb-Timestamp exactly as sent>:<raw body>`; HMAC-SHA256 keyed
/// with the secret's UTF-8 bytes as is (not decoded). The SDKs' tolerance is 5 minutes either way.
struct orb_signature {
  using signature_scheme_concept = signature_scheme_t;
  static constexpr std::string_view name = "orb";
  static constexpr std::string_view timestamp_header = "X-Orb-Timestamp";
  static constexpr std::string_view signature_header = "X-Orb-Signature";

  [[nodiscard]] signature_check verify(const signed_delivery& d) const {
    using kind = signature_check::kind;
    try {
      const auto stamp = d.request.header(timestamp_header);
      if (!stamp) return signature_check::refused(kind::missing_header, "Missing X-Orb-Timestamp header");
      const auto signatures = d.request.header(signature_header);
      if (!signatures) return signature_check::refused(kind::missing_header, "Missing X-Orb-Signature header");
      const auto parsed = ::tollgate::detail::parse_iso8601(*stamp);
      if (!parsed) return signature_check::refused(kind::malformed, "Invalid X-Orb-Timestamp header: expected an ISO 8601 time");

      std::string signed_payload = "v1:";
      signed_payload += *stamp;
      signed_payload += ':';
      signed_payload += d.raw_body;
      const std::string expected = detail::to_hex(::tollgate::detail::hmac_sha256(d.secret.reveal(), signed_payload));
      bool matched = false;
      std::string_view rest = *signatures;
      while (!rest.empty()) {
        const auto space = rest.find(' ');
        const std::string_view item = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        if (item.size() > 3 && item.substr(0, 3) == "v1=")
          matched |= ::tollgate::detail::constant_time_equal(expected, lower(item.substr(3)));
      }
      if (!matched) return signature_check::refused(kind::bad_signature, "None of the given webhook signatures match the expected signature");

      const auto signed_at = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*parsed);
      if (signed_at < d.now - d.tolerance) return signature_check::refused(kind::stale, "Webhook timestamp is too old");
      if (signed_at > d.now + d.tolerance) return signature_check::refused(kind::stale, "Webhook timestamp is too new");
      return signature_check::verified(signed_at);
    } catch (...) {  // bad_alloc, OpenSSL failure: refuse, never crash the server
      return signature_check::refused(kind::bad_signature, "Signature verification failed");
    }
  }

 private:
  // orb-go compares decoded bytes, so upper-case hex matches there too.
  static std::string lower(std::string_view hex) {
    std::string out(hex);
    for (char& c : out)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
};
static_assert(signature_scheme<orb_signature>);

}  // namespace tollgate::webhooks

#endif  // TOLLGATE_WEBHOOKS_ORB_SIGNATURE_HPP
