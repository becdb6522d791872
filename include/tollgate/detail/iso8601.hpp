// SPDX-License-Identifier: MIT
// Parses the ISO 8601 timestamps billing providers send (Orb's X-Orb-Timestamp, `created_at` fields).
#ifndef TOLLGATE_DETAIL_ISO8601_HPP
#define TOLLGATE_DETAIL_ISO8601_HPP

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tollgate::detail {

/// `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` → a UTC time point (microseconds; finer digits are
/// dropped). No zone means UTC, as Orb sends it (`2024-03-27T15:42:29.551`). std::nullopt for
/// anything else, including impossible dates and times.
[[nodiscard]] inline std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_iso8601(std::string_view text) {
  std::size_t at = 0;
  auto digits = [&](std::size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text[at + i];
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    at += count;
    return value;
  };
  auto expect = [&](char c) {
    if (at >= text.size() || text[at] != c) return false;
    ++at;
    return true;
  };
  const auto year = digits(4);
  if (!year || !expect('-')) return std::nullopt;
  const auto month = digits(2);
  if (!month || !expect('-')) return std::nullopt;
  const auto day = digits(2);
  if (!day || !(expect('T') || expect('t') || expect(' '))) return std::nullopt;
  const auto hour = digits(2);
  if (!hour || !expect(':')) return std::nullopt;
  const auto minute = digits(2);
  if (!minute || !expect(':')) return std::nullopt;
  const auto second = digits(2);
  if (!second || *hour > 23 || *minute > 59 || *second > 59) return std::nullopt;

  std::int64_t micros = 0;
  if (expect('.')) {
    int count = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (count < 6) micros = micros * 10 + (text[at] - '0');
      ++count;
      ++at;
    }
    if (count == 0) return std::nullopt;
    for (; count < 6; ++count) micros *= 10;
  }
  std::chrono::minutes offset{0};
  if (at < text.size()) {
    if (expect('Z') || expect('z')) {
      // UTC
    } else if (text[at] == '+' || text[at] == '-') {
      const bool east = text[at] == '+';
      ++at;
      const auto oh = digits(2);
      if (!oh) return std::nullopt;
      expect(':');
      const auto om = digits(2);
      if (!om || *oh > 23 || *om > 59) return std::nullopt;
      offset = std::chrono::hours(*oh) + std::chrono::minutes(*om);
      if (!east) offset = -offset;
    } else {
      return std::nullopt;
    }
  }
  if (at != text.size()) return std::nullopt;

  const std::chrono::year_month_day date{std::chrono::year{*year}, std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::hours(*hour) + std::chrono::minutes(*minute) + std::chrono::seconds(*second) +
         std::chrono::microseconds(micros) - offset;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_ISO8601_HPP
