// SPDX-License-Identifier: MIT
// Splits an Authorization header into scheme and token the way the original (Python's str.split) does.
#ifndef TOLLGATE_JWT_BEARER_HPP
#define TOLLGATE_JWT_BEARER_HPP

#include <optional>
#include <string_view>

#include <tollgate/detail/ascii.hpp>

namespace tollgate::jwt {

namespace detail {
/// Whitespace for Python's `str.split()` on a header decoded as Latin-1 (so 0x85 and 0xA0 count).
[[nodiscard]] constexpr bool python_space(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x09 && u <= 0x0D) || (u >= 0x1C && u <= 0x20) || u == 0x85 || u == 0xA0;
}
}  // namespace detail

/// The token of `Bearer <token>`: exactly two whitespace-separated parts, the first `bearer` in any
/// case. std::nullopt otherwise (the contract's "Invalid authorization header format").
[[nodiscard]] constexpr std::optional<std::string_view> bearer_token(std::string_view header) noexcept {
  std::string_view parts[2];
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && detail::python_space(header[i])) ++i;
    if (i == header.size()) break;
    const std::size_t start = i;
    while (i < header.size() && !detail::python_space(header[i])) ++i;
    if (count == 2) return std::nullopt;
    parts[count++] = header.substr(start, i - start);
  }
  if (count != 2 || !tollgate::detail::iequals(parts[0], "bearer")) return std::nullopt;
  return parts[1];
}

}  // namespace tollgate::jwt

#endif  // TOLLGATE_JWT_BEARER_HPP
