// redacted: a secret (API key, user credential, token) that prints as a fingerprint, never in clear.
#ifndef TOLLGATE_LOGGING_REDACTED_HPP
#define TOLLGATE_LOGGING_REDACTED_HPP

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace tollgate {

/// Holds a secret and formats as `«redacted:1a2b3c4d»`: a 32-bit fingerprint that lets an operator
/// correlate the log lines of one process without learning the value. The fingerprint is keyed
/// with a random per-process salt, so a log reader cannot test guesses of a weak secret offline.
/// `reveal()` is the only way to read the value.
class redacted {
 public:
  redacted() = default;
  explicit redacted(std::string secret) : secret_(std::move(secret)) {}

  [[nodiscard]] const std::string& reveal() const noexcept { return secret_; }
  [[nodiscard]] bool empty() const noexcept { return secret_.empty(); }

  [[nodiscard]] std::uint32_t fingerprint() const noexcept {
    std::uint64_t h = 14695981039346656037ull ^ process_salt();  // FNV-1a 64, salted
    for (unsigned char c : secret_) { h ^= c; h *= 1099511628211ull; }
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }
  [[nodiscard]] std::string to_string() const { return fmt::format("«redacted:{:08x}»", fingerprint()); }

  friend bool operator==(const redacted&, const redacted&) = default;

 private:
  static std::uint64_t process_salt() noexcept {
    static const std::uint64_t salt = [] {
      try {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
      } catch (...) {  // no entropy source: still not the bare FNV of the secret
        return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      }
    }();
    return salt;
  }

  std::string secret_;
};

}  // namespace tollgate

template <>
struct fmt::formatter<tollgate::redacted> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const tollgate::redacted& r, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = r.to_string();
    return fmt::formatter<std::string_view>::format(std::string_view(text), ctx);
  }
};

#endif  // TOLLGATE_LOGGING_REDACTED_HPP
