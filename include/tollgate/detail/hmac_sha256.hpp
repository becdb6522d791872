// SPDX-License-Identifier: MIT
// HMAC-SHA256 and a constant-time comparison, both from OpenSSL's libcrypto: tollgate writes no crypto of its own.
#ifndef TOLLGATE_DETAIL_HMAC_SHA256_HPP
#define TOLLGATE_DETAIL_HMAC_SHA256_HPP

#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace tollgate::detail {

/// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
[[nodiscard]] inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  static const unsigned char no_key = 0;  // OpenSSL wants a non-null pointer even for an empty key
  const unsigned char* key_bytes = key.empty() ? &no_key : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest, &length) == nullptr)
    throw std::runtime_error("tollgate: OpenSSL HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(digest), length);
}

/// True when `a` and `b` are equal, in time that depends only on their lengths (CRYPTO_memcmp).
[[nodiscard]] inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;  // signature lengths are public
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_HMAC_SHA256_HPP
