// SPDX-License-Identifier: MIT
// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag, modulo 16384.
#ifndef TOLLGATE_REDIS_CLUSTER_SLOT_HPP
#define TOLLGATE_REDIS_CLUSTER_SLOT_HPP

#include <cstdint>
#include <string_view>

#include <boost/crc.hpp>

namespace tollgate::redis {

inline constexpr std::uint16_t cluster_slots = 16384;

/// The part of a key that Redis Cluster hashes: between the first '{' and the next '}' when that
/// is not empty, else the whole key. Keys sharing a tag share a slot, so one script may touch them all.
[[nodiscard]] constexpr std::string_view hash_tag(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

/// The slot of `key`, as CLUSTER KEYSLOT computes it.
[[nodiscard]] inline std::uint16_t slot_of(std::string_view key) noexcept {
  boost::crc_optimal<16, 0x1021, 0, 0, false, false> crc;  // CRC-16/XMODEM, the one Redis uses
  const std::string_view tag = hash_tag(key);
  crc.process_bytes(tag.data(), tag.size());
  return static_cast<std::uint16_t>(crc.checksum() % cluster_slots);
}

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_CLUSTER_SLOT_HPP
