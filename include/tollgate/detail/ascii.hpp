// SPDX-License-Identifier: MIT
// Small ASCII helpers: case-insensitive compare, trimming. Locale-free on purpose (HTTP is ASCII).
#ifndef TOLLGATE_DETAIL_ASCII_HPP
#define TOLLGATE_DETAIL_ASCII_HPP

#include <optional>
#include <string>
#include <string_view>

namespace tollgate::detail {

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

[[nodiscard]] constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

[[nodiscard]] constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// A header or parameter value as an id: trimmed, and an empty value counts as missing.
[[nodiscard]] inline std::optional<std::string> non_empty_trimmed(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  const auto trimmed = trim(*value);
  if (trimmed.empty()) return std::nullopt;
  return std::string(trimmed);
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_ASCII_HPP
