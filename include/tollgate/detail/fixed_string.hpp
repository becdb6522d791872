// SPDX-License-Identifier: MIT
// A string usable as a template argument: from_header<"X-User-ID">, plan<"free", ...>.
#ifndef TOLLGATE_DETAIL_FIXED_STRING_HPP
#define TOLLGATE_DETAIL_FIXED_STRING_HPP

#include <cstddef>
#include <string_view>

namespace tollgate {

/// A compile-time string literal, structural so it can be a template argument.
/// Its members are public only because C++20 requires it of template arguments.
template <std::size_t N>
struct fixed_string {
  char chars[N]{};

  consteval fixed_string(const char (&text)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) chars[i] = text[i];
  }

  [[nodiscard]] constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
  [[nodiscard]] static constexpr std::size_t size() noexcept { return N - 1; }
  constexpr operator std::string_view() const noexcept { return view(); }
};

}  // namespace tollgate

#endif  // TOLLGATE_DETAIL_FIXED_STRING_HPP
