// redacted: a secret (API key, user credential, token) that prints as a fingerprint, never in clear.
#ifndef TOLLGATE_LOGGING_REDACTED_HPP
#define TOLLGATE_LOGGING_REDACTED_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace tollgate {

/// Holds a secret and formats as `«redacted:1a2b3c4d»`: a 32-bit FNV-1a fingerprint that lets an
/// operator correlate log lines without learning the value. `reveal()` is the only way to read it.
class redacted {
 public:
  redacted() = default;
  explicit redacted(std::string secret) : secret_(std::move(secret)) {}

  [[nodiscard]] const std::string& reveal() const noexcept { return secret_; }
  [[nodiscard]] bool empty() const noexcept { return secret_.empty(); }

  [[nodiscard]] std::uint32_t fingerprint() const noexcept {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : secret_) { h ^= c; h *= 16777619u; }
    return h;
  }
  [[nodiscard]] std::string to_string() const { return fmt::format("«redacted:{:08x}»", fingerprint()); }

  friend bool operator==(const redacted&, const redacted&) = default;

 private:
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
