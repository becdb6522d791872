// SPDX-License-Identifier: MIT
// The cpp-httplib part (opt-in: needs cpp-httplib and nlohmann_json): the adapter that registers metered
// routes, the shared network tuning, the credit-service ledger, the settlement outbox, JSON amounts and
// the body extractor.
#ifndef TOLLGATE_HTTPLIB_HPP
#define TOLLGATE_HTTPLIB_HPP

#include <tollgate/tollgate.hpp>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/extractors/from_body.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>

#endif  // TOLLGATE_HTTPLIB_HPP
