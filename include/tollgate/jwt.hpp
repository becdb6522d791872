// SPDX-License-Identifier: MIT
// HS256 JWT (opt-in: needs OpenSSL's libcrypto and nlohmann_json): verifier, signer, from_jwt extractor.
#ifndef TOLLGATE_JWT_HPP
#define TOLLGATE_JWT_HPP

#include <tollgate/jwt/base64url.hpp>
#include <tollgate/jwt/bearer.hpp>
#include <tollgate/jwt/hmac_sha256.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/jwt/verifier.hpp>
#include <tollgate/extractors/from_jwt.hpp>

#endif  // TOLLGATE_JWT_HPP
