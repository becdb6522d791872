// SPDX-License-Identifier: MIT
// Minimal JSON text writing for the core (error bodies), so the core never includes nlohmann/json.
#ifndef TOLLGATE_DETAIL_JSON_TEXT_HPP
#define TOLLGATE_DETAIL_JSON_TEXT_HPP

#include <string>
#include <string_view>

namespace tollgate::detail {

/// Appends `text` as a quoted JSON string, escaping what RFC 8259 requires.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

/// `{"detail": "<message>"}`: the body of every error tollgate answers.
[[nodiscard]] inline std::string detail_body(std::string_view message) {
  std::string out = "{\"detail\":";
  append_json_string(out, message);
  out.push_back('}');
  return out;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_JSON_TEXT_HPP
