// SPDX-License-Identifier: MIT
// jwt::sign_hs256: makes HS256 tokens, for tests, examples and services that call a tollgate endpoint.
#ifndef TOLLGATE_JWT_SIGN_HPP
#define TOLLGATE_JWT_SIGN_HPP

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tollgate/jwt/base64url.hpp>
#include <tollgate/jwt/hmac_sha256.hpp>
#include <tollgate/logging/redacted.hpp>

namespace tollgate::jwt {

/// Signs `claims` with HMAC-SHA256 under a header of your choosing. The signature is always HS256,
/// whatever `header` says: tests use it to forge alg-confusion tokens.
[[nodiscard]] inline std::string sign_with_header(const nlohmann::json& header, const nlohmann::json& claims,
                                                  const redacted& secret) {
  std::string token = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  const std::string signature = hmac_sha256(secret.reveal(), token);
  return token + "." + base64url_encode(signature);
}

/// An HS256 token for `claims`: `{"alg":"HS256","typ":"JWT"}` header, compact serialisation.
///
///     auto now = std::time(nullptr);
///     auto token = tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}},
///                                            tollgate::redacted{secret});
[[nodiscard]] inline std::string sign_hs256(const nlohmann::json& claims, const redacted& secret) {
  return sign_with_header(nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}}, claims, secret);
}
/// The same with a plain secret.
[[nodiscard]] inline std::string sign_hs256(const nlohmann::json& claims, std::string_view secret) {
  return sign_hs256(claims, redacted{std::string(secret)});
}

}  // namespace tollgate::jwt

#endif  // TOLLGATE_JWT_SIGN_HPP
