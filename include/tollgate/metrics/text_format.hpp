// SPDX-License-Identifier: MIT
// The Prometheus text format 0.0.4, piece by piece: names, escaping, numbers and sample lines.
#ifndef TOLLGATE_METRICS_TEXT_FORMAT_HPP
#define TOLLGATE_METRICS_TEXT_FORMAT_HPP

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace tollgate::metrics {

/// The Content-Type of a text-format scrape.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
[[nodiscard]] constexpr bool is_metric_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/// Whether `name` is a label name a program may use: `[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed
/// (reserved for Prometheus itself).
[[nodiscard]] constexpr bool is_label_name(std::string_view name) noexcept {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/// A label value as it goes between the quotes: `\` → `\\`, `"` → `\"`, line feed → `\n`.
inline void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

/// HELP text: `\` → `\\`, line feed → `\n` (quotes stay as they are there).
inline void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

/// A sample value: integers exactly, floats in the shortest form that reads back the same,
/// and the format's spellings of the infinities and NaN. (std::to_chars: the core stays off
/// <fmt/format.h>, whose parse time the metering umbrella does not pay.)
template <class Number>
void append_number(std::string& out, Number v) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  if (ec == std::errc{}) out.append(buffer, end);
}
inline void append_value(std::string& out, std::uint64_t v) { append_number(out, v); }
inline void append_value(std::string& out, std::int64_t v) { append_number(out, v); }
inline void append_value(std::string& out, double v) {
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else append_number(out, v);
}

/// One line: `name<suffix>{labels} value`. `labels` is already rendered (`a="1",b="2"`), or empty.
template <class Value>
void write_sample(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels, Value v) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_value(out, v);
  out += '\n';
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_TEXT_FORMAT_HPP
