// Fuzzes jwt::verifier: arbitrary token text, and tokens validly signed over fuzzed header and claims.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tollgate/jwt/base64url.hpp>
#include <tollgate/jwt/hmac_sha256.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/jwt/verifier.hpp>

#include "fuzz_support.hpp"

namespace {

constexpr std::string_view secret = "fuzz-secret-0123456789";
constexpr std::int64_t fixed_now = 1'700'000'000;

const tollgate::jwt::verifier& contract_verifier() {
  static const tollgate::jwt::verifier v{tollgate::redacted{std::string(secret)},
                                         tollgate::jwt::verify_options{.now = [] { return fixed_now; }}};
  return v;
}

const tollgate::jwt::verifier& lenient_verifier() {
  static const tollgate::jwt::verifier v{tollgate::redacted{std::string(secret)},
                                         tollgate::jwt::verify_options{.audience = std::nullopt,
                                                                       .version = std::nullopt,
                                                                       .leeway = std::chrono::seconds(90),
                                                                       .now = [] { return fixed_now; }}};
  return v;
}

void verify_both(std::string_view token) {
  for (const auto* v : {&contract_verifier(), &lenient_verifier()}) {
    const auto result = v->verify(token);
    if (result) {
      TOLLGATE_FUZZ_CHECK(result.claims.is_object());
    } else {
      TOLLGATE_FUZZ_CHECK(result.claims.is_null());
      TOLLGATE_FUZZ_CHECK(!result.error.empty());
    }
  }
}

// header.payload signed with the fixed secret, whatever the bytes are.
std::string sign_raw(std::string_view header, std::string_view payload) {
  std::string token = tollgate::jwt::base64url_encode(header) + "." + tollgate::jwt::base64url_encode(payload);
  const std::string signature = tollgate::jwt::hmac_sha256(std::string(secret), token);
  return token + "." + tollgate::jwt::base64url_encode(signature);
}

}  // namespace

// The first byte picks a mode: 0 the rest is a token; 1 the rest is claims JSON signed under the
// standard header (sign_hs256); 2 "header\nclaims" signed as they are, JSON or not.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto rest = tollgate_fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: verify_both(rest); break;
    case 1: {
      const auto claims = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
      if (claims.is_discarded()) return 0;
      const auto token = tollgate::jwt::sign_hs256(claims, secret);
      verify_both(token);
      // A signed object is always past the signature: only the claim checks may refuse it.
      const auto lenient = lenient_verifier().verify(token);
      if (!claims.is_object()) TOLLGATE_FUZZ_CHECK(lenient.error == "Invalid payload string: must be a json object");
      break;
    }
    default: {
      const auto parts = tollgate_fuzz::split(rest, '\n', 2);
      const std::string_view header = parts[0];
      const std::string_view payload = parts.size() > 1 ? parts[1] : std::string_view{};
      verify_both(sign_raw(header, payload));
      const auto header_json = nlohmann::json::parse(header, nullptr, false);
      const auto payload_json = nlohmann::json::parse(payload, nullptr, false);
      if (!header_json.is_discarded() && !payload_json.is_discarded())
        verify_both(tollgate::jwt::sign_with_header(header_json, payload_json, tollgate::redacted{std::string(secret)}));
      break;
    }
  }
  return 0;
}
