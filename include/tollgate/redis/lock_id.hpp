// SPDX-License-Identifier: MIT
// redis_ledger's lock ids: `rl_<lock number>_<base64url(user id)>`, naming the user so that a
// settle reaches the user's keys (and cluster slot) with no lookup.
#ifndef TOLLGATE_REDIS_LOCK_ID_HPP
#define TOLLGATE_REDIS_LOCK_ID_HPP

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <tollgate/jwt/base64url.hpp>

namespace tollgate::redis {

/// What a lock id names.
struct lock_id_parts {
  std::string number;  ///< the lock's number among its user's locks (decimal digits)
  std::string user;
};

/// The lock id of lock `number` (decimal digits) of `user`.
[[nodiscard]] inline std::string format_lock_id(std::string_view number, std::string_view user) {
  return fmt::format("rl_{}_{}", number, jwt::base64url_encode(user));
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
  auto user = jwt::base64url_decode(id.substr(split + 1));
  if (!user || user->empty()) return std::nullopt;
  return lock_id_parts{std::string(number), std::move(*user)};
}

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_LOCK_ID_HPP
