// SPDX-License-Identifier: MIT
// credit_service_ledger: the ledger concept over the nilauth-credit HTTP API, on cpp-httplib.
#ifndef TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP
#define TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP

#include <tollgate/adapters/httplib_credit_transport.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/basic_credit_service_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>

namespace tollgate {

/// The credit service through cpp-httplib's client: keep-alive connections pooled, each call
/// bounded by `timeout`; the async forms run on `async_threads` workers.
///
///     tollgate::credit_service_ledger ledger{tollgate::credit_service_ledger_options::from_environment()};
using credit_service_ledger = basic_credit_service_ledger<httplib_credit_transport>;

static_assert(ledger<credit_service_ledger>);
static_assert(async_ledger<credit_service_ledger>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP
