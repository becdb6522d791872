// Helpers shared by the libFuzzer targets: a check that crashes the run, and a byte splitter.
#ifndef TOLLGATE_TESTS_FUZZ_FUZZ_SUPPORT_HPP
#define TOLLGATE_TESTS_FUZZ_FUZZ_SUPPORT_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

/// A property the target checks: when it fails, the input is a finding (libFuzzer saves it).
#define TOLLGATE_FUZZ_CHECK(condition)                                                     \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #condition); \
      __builtin_trap();                                                                    \
    }                                                                                      \
  } while (0)

namespace tollgate_fuzz {

/// The fuzzer's bytes as text.
[[nodiscard]] inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// `text` cut at every `separator`, at most `max_parts` parts (the last one keeps the rest).
[[nodiscard]] inline std::vector<std::string_view> split(std::string_view text, char separator, std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const auto at = text.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
  parts.push_back(text);
  return parts;
}

}  // namespace tollgate_fuzz

#endif  // TOLLGATE_TESTS_FUZZ_FUZZ_SUPPORT_HPP
