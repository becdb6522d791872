// SPDX-License-Identifier: MIT
// One-shot message digests (SHA-1, SHA-256) as lowercase hex, from OpenSSL's libcrypto.
#ifndef TOLLGATE_DETAIL_DIGEST_HPP
#define TOLLGATE_DETAIL_DIGEST_HPP

#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace tollgate::detail {

/// The digest of `data` under `md` (e.g. EVP_sha256()), as lowercase hex.
[[nodiscard]] inline std::string hex_digest(const EVP_MD* md, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, md, nullptr) != 1)
    throw std::runtime_error("tollgate: OpenSSL EVP_Digest failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(std::size_t{length} * 2, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xf];
  }
  return out;
}

/// SHA-1 in hex: how Redis names a script (EVALSHA). Not used for anything secret.
[[nodiscard]] inline std::string sha1_hex(std::string_view data) { return hex_digest(EVP_sha1(), data); }

/// SHA-256 in hex.
[[nodiscard]] inline std::string sha256_hex(std::string_view data) { return hex_digest(EVP_sha256(), data); }

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_DIGEST_HPP
