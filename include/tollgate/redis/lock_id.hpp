// SPDX-License-Identifier: MIT
// redis_ledger's lock ids: `rl_<lock number>_<nonce>_<base64url(user id)>`. The user id lets a
// settle reach the user's keys (and cluster slot) with no lookup; the nonce keeps an id from ever
// naming another lock, even when a Redis failover loses a lock and its number is given again.
#ifndef TOLLGATE_REDIS_LOCK_ID_HPP
#define TOLLGATE_REDIS_LOCK_ID_HPP

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <tollgate/jwt/base64url.hpp>

namespace tollgate::redis {

inline constexpr std::size_t lock_nonce_length = 12;  ///< hex digits: 48 bits

/// What a lock id names.
struct lock_id_parts {
  std::string number;  ///< the lock's number among its user's locks (decimal digits)
  std::string nonce;   ///< lock_nonce_length lowercase hex digits, stored with the lock
  std::string user;
};

/// A fresh nonce. Not a secret (lock ids are not credentials), only never the same twice in practice.
[[nodiscard]] inline std::string new_lock_nonce() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{:012x}", generator() & 0xffff'ffff'ffffULL);
}

/// The lock id of lock `number` (decimal digits) with `nonce` of `user`.
[[nodiscard]] inline std::string format_lock_id(std::string_view number, std::string_view nonce, std::string_view user) {
  return fmt::format("rl_{}_{}_{}", number, nonce, jwt::base64url_encode(user));
}

/// The parts of a lock id, or nullopt for anything format_lock_id did not make (lock ids come
/// from clients of the credit server too). Strict: a parsed id formats back to itself.
[[nodiscard]] inline std::optional<lock_id_parts> parse_lock_id(std::string_view id) {
  if (!id.starts_with("rl_")) return std::nullopt;
  id.remove_prefix(3);
  const auto split = id.find('_');
  if (split == 0 || split == std::string_view::npos || split > 19) return std::nullopt;  // a number Redis's HINCRBY can reach
  const std::string_view number = id.substr(0, split);
  if (!std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  id.remove_prefix(split + 1);
  if (id.size() < lock_nonce_length + 1 || id[lock_nonce_length] != '_') return std::nullopt;
  const std::string_view nonce = id.substr(0, lock_nonce_length);
  if (!std::all_of(nonce.begin(), nonce.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return std::nullopt;
  auto user = jwt::base64url_decode(id.substr(lock_nonce_length + 1));
  if (!user || user->empty()) return std::nullopt;
  return lock_id_parts{std::string(number), std::string(nonce), std::move(*user)};
}

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_LOCK_ID_HPP
