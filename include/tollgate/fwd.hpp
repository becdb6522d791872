// SPDX-License-Identifier: MIT
// Forward declarations of tollgate's main types, for headers that only name them (a function that takes
// a `tollgate::memory_ledger&`, a member `tollgate::ledger_ref`): no standard library, no {fmt}, nothing
// to parse. Include the real header where a type is used. Class templates whose parameters are values
// (from_header<"X">, estimate<5.0_cr>) need their real headers.
#ifndef TOLLGATE_FWD_HPP
#define TOLLGATE_FWD_HPP

namespace tollgate {

// credits.hpp
struct credits;
class amount_overflow;

// logging/
enum class log_level;
class logger;
class redacted;

// http/
struct basic_request;
struct basic_response;
class request_ref;
class response_ref;
class stream_observer;

// ledgers/
struct ledger_t;
struct async_ledger_t;
enum class ledger_errc;
struct ledger_error;
class bad_result_access;
template <class T> class result;
struct lock_grant;
struct settlement;
class ledger_ref;
struct user_balance;
struct open_lock;
struct ledger_summary;
struct memory_ledger_options;
struct memory_ledger_state;
class memory_ledger;
struct durable_ledger_options;
struct credit_service_ledger_options;
struct credit_request;
struct credit_reply;
struct credit_transport_settings;
template <class Transport> class basic_credit_service_ledger;
class httplib_credit_transport;
using credit_service_ledger = basic_credit_service_ledger<httplib_credit_transport>;
struct redis_ledger_options;
class redis_ledger;
struct offloading_options;
template <class Inner> class offloading_ledger;

// metering/
struct charge_estimate;
// The default argument lives here only (a template's defaults may be given once): metered.hpp includes this.
template <class Extractor, class Estimate, class Calculator = charge_estimate, class... Options>
class metered;
class metering_context;
struct token_usage;
class bad_request;
struct failed_settlement;
class settlement_guard;

// extractors/
struct from_bearer;

// plans/
struct unlimited_t;
class limit_value;
struct limit_decision;
class plan_limits;
struct plan_resolution;
class cached_plan_lookup;
template <class... Entries> class plan_table;
template <class Table> class tenant_overrides;

}  // namespace tollgate

#endif  // TOLLGATE_FWD_HPP
