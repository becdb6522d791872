// SPDX-License-Identifier: MIT
// tollgate's core umbrella: metering — credits, extractors, estimates, calculators, metered, the in-process
// ledger, logging. Needs only {fmt}, Boost and libcrypto. Plan tables: tollgate/plans.hpp; the opt-in parts:
// tollgate/httplib.hpp, tollgate/jwt.hpp, tollgate/billing.hpp, tollgate/redis.hpp.
#ifndef TOLLGATE_TOLLGATE_HPP
#define TOLLGATE_TOLLGATE_HPP

#include <tollgate/version.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>

#include <tollgate/extractors/extractor.hpp>
#include <tollgate/extractors/first_of.hpp>
#include <tollgate/extractors/from_bearer.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/extractors/from_query.hpp>

#include <tollgate/estimates/estimate.hpp>

#include <tollgate/calculators/by_processing_time.hpp>
#include <tollgate/calculators/by_response_size.hpp>
#include <tollgate/calculators/calculator.hpp>
#include <tollgate/calculators/fixed_cost.hpp>
#include <tollgate/calculators/per_token.hpp>
#include <tollgate/calculators/sum.hpp>

#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>

#include <tollgate/metering/bad_request.hpp>
#include <tollgate/metering/context.hpp>
#include <tollgate/metering/metered.hpp>
#include <tollgate/metering/options.hpp>
#include <tollgate/metering/settlement_guard.hpp>
#include <tollgate/metering/usage.hpp>

#endif  // TOLLGATE_TOLLGATE_HPP
