// SPDX-License-Identifier: MIT
// What a Redis error reply means for a ledger call: "not now" (unavailable), "not you" (unauthorized),
// or something for the caller to read. Shared by the blocking client and the asynchronous ledger.
#ifndef TOLLGATE_REDIS_ERROR_REPLY_HPP
#define TOLLGATE_REDIS_ERROR_REPLY_HPP

#include <optional>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate::redis {

/// The ledger error an error reply stands for when it is about Redis rather than the command:
/// LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY, OOM are `unavailable`, a refused
/// login (NOAUTH, WRONGPASS, NOPERM) is `unauthorized`; nullopt for any other text.
[[nodiscard]] inline std::optional<ledger_error> refusal_of(std::string_view error_text) {
  for (std::string_view busy : {"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM"})
    if (error_text.starts_with(busy)) return ledger_error{ledger_errc::unavailable, fmt::format("Redis cannot serve now: {}", error_text)};
  for (std::string_view denied : {"NOAUTH", "WRONGPASS", "NOPERM"})
    if (error_text.starts_with(denied)) return ledger_error{ledger_errc::unauthorized, fmt::format("Redis refused tollgate: {}", error_text)};
  return std::nullopt;
}

/// Whether an error reply redirects to another Redis Cluster node (MOVED or ASK).
[[nodiscard]] constexpr bool is_redirect(std::string_view error_text) noexcept {
  return error_text.starts_with("MOVED ") || error_text.starts_with("ASK ");
}

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_ERROR_REPLY_HPP
