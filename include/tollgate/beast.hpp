// SPDX-License-Identifier: MIT
// The Boost.Beast part (opt-in: Boost's headers and threads): the adapter, its server and router,
// Asio completion tokens, and offloading_ledger for blocking ledgers on an event loop.
#ifndef TOLLGATE_BEAST_HPP
#define TOLLGATE_BEAST_HPP

#include <tollgate/tollgate.hpp>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>

#endif  // TOLLGATE_BEAST_HPP
