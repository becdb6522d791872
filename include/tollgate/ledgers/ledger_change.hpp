// SPDX-License-Identifier: MIT
// ledger_change: one change to an in-process ledger's state, as a journal records and replays it.
#ifndef TOLLGATE_LEDGERS_LEDGER_CHANGE_HPP
#define TOLLGATE_LEDGERS_LEDGER_CHANGE_HPP

#include <chrono>
#include <cstdint>
#include <string_view>

#include <tollgate/credits.hpp>

namespace tollgate {

/// One change to a memory_ledger, reported by its `on_change` hook while the change is being made
/// (under the lock of the user it touches, so the changes of one user arrive in the order they
/// happened) and replayed by `memory_ledger::apply`. The views are valid only during the call.
///
///     kind              fields that carry meaning
///     user_added        user_id, amount (the opening balance)
///     credential_added  user_id, credential
///     topped_up         user_id, amount (what was added)
///     locked            user_id, lock_id, idempotency_key (may be empty), amount (held), expires_at
///     settled           user_id, lock_id, amount (what was charged; the rest of the hold returned)
///     expired           user_id, lock_id (the whole hold returned)
///
/// `at` is when the change happened and `expires_at` when a hold returns on its own, both on the
/// wall clock so that a journal replayed after a restart keeps its deadlines.
struct ledger_change {
  enum class kind : std::uint8_t { user_added, credential_added, topped_up, locked, settled, expired };

  kind what{};
  std::string_view user_id{};
  std::string_view credential{};
  std::string_view lock_id{};
  std::string_view idempotency_key{};
  credits amount{};
  std::chrono::system_clock::time_point at{};
  std::chrono::system_clock::time_point expires_at{};
};

[[nodiscard]] constexpr std::string_view to_string(ledger_change::kind k) noexcept {
  switch (k) {
    case ledger_change::kind::user_added: return "user_added";
    case ledger_change::kind::credential_added: return "credential_added";
    case ledger_change::kind::topped_up: return "topped_up";
    case ledger_change::kind::locked: return "locked";
    case ledger_change::kind::settled: return "settled";
    case ledger_change::kind::expired: return "expired";
  }
  return "unknown";
}

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_LEDGER_CHANGE_HPP
