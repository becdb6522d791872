// SPDX-License-Identifier: MIT
// The Redis part (opt-in: needs hiredis): the ledger several API servers share, and the settlement
// outbox that keeps a settle made during a Redis outage until it lands, and the shared usage store.
#ifndef TOLLGATE_REDIS_HPP
#define TOLLGATE_REDIS_HPP

#include <tollgate/tollgate.hpp>

#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/ledgers/redis_ledger.hpp>
#include <tollgate/usage/redis_usage_store.hpp>

#endif  // TOLLGATE_REDIS_HPP
