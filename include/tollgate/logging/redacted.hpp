// SPDX-License-Identifier: MIT
// redacted: a secret (API key, user credential, token) that prints as a fingerprint, never in clear.
#ifndef TOLLGATE_LOGGING_REDACTED_HPP
#define TOLLGATE_LOGGING_REDACTED_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>
#include <openssl/rand.h>

#include <tollgate/detail/hmac_sha256.hpp>
#include <tollgate/detail/text_formatter.hpp>

namespace tollgate {

/// Holds a secret and formats as `«redacted:1a2b3c4d»`: 32 bits of HMAC-SHA256 (OpenSSL) of the
/// secret under a key drawn at random when the process starts, so an operator can correlate the
/// log lines of one process without learning the value, and a log reader can neither test guesses
/// offline nor learn the key from known (secret, fingerprint) pairs. `reveal()` is the only way to
/// read the value.
class redacted {
 public:
  redacted() = default;
  explicit redacted(std::string secret) : secret_(std::move(secret)) {}

  [[nodiscard]] const std::string& reveal() const noexcept { return secret_; }
  [[nodiscard]] bool empty() const noexcept { return secret_.empty(); }

  [[nodiscard]] std::uint32_t fingerprint() const {
    const std::string mac = detail::hmac_sha256(process_key(), secret_);
    std::uint32_t out = 0;
    for (int i = 0; i < 4; ++i) out = (out << 8) | static_cast<unsigned char>(mac[static_cast<std::size_t>(i)]);
    return out;
  }
  [[nodiscard]] std::string to_string() const { return fmt::format("«redacted:{:08x}»", fingerprint()); }

  friend bool operator==(const redacted&, const redacted&) = default;

 private:
  // 32 bytes from OpenSSL's CSPRNG, once per process.
  static const std::string& process_key() {
    static const std::string key = [] {
      std::string k(32, '\0');
      if (RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), static_cast<int>(k.size())) != 1)
        throw std::runtime_error("tollgate: no randomness for the log redaction key (OpenSSL RAND_bytes failed)");
      return k;
    }();
    return key;
  }

  std::string secret_;
};

}  // namespace tollgate

template <>
struct fmt::formatter<tollgate::redacted> : tollgate::detail::text_formatter {
  template <typename FormatContext>
  auto format(const tollgate::redacted& r, FormatContext& ctx) const -> decltype(ctx.out()) {
    return write(r.to_string(), ctx);
  }
};

#endif  // TOLLGATE_LOGGING_REDACTED_HPP
