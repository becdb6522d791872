// SPDX-License-Identifier: MIT
// What a ledger's summary() reports: every user's balances and the open locks.
#ifndef TOLLGATE_LEDGERS_LEDGER_SUMMARY_HPP
#define TOLLGATE_LEDGERS_LEDGER_SUMMARY_HPP

#include <chrono>
#include <string>
#include <vector>

#include <tollgate/credits.hpp>

namespace tollgate {

/// A user's balances: `available` can be locked; `held` is locked by open locks.
struct user_balance {
  std::string user_id;
  credits available;
  credits held;
};

/// An open lock as summary() lists it.
struct open_lock {
  std::string lock_id;
  std::string user_id;
  credits amount;
  std::chrono::milliseconds expires_in;
};

/// Balances of every user and the open locks.
struct ledger_summary {
  std::vector<user_balance> users;  ///< sorted by user id
  std::vector<open_lock> locks;     ///< open locks only, sorted by lock id
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_LEDGER_SUMMARY_HPP
