// SPDX-License-Identifier: MIT
// Scrape-time gauges of a ledger's health: a durable outbox's depth and age, a circuit breaker's state.
#ifndef TOLLGATE_METRICS_LEDGER_GAUGES_HPP
#define TOLLGATE_METRICS_LEDGER_GAUGES_HPP

#include <chrono>
#include <string>
#include <string_view>

#include <tollgate/metrics/registry.hpp>

namespace tollgate::metrics {

/// Exports a durable_ledger's outbox: `tollgate_outbox_pending{ledger=name}` (settlements owed)
/// and `tollgate_outbox_oldest_pending_age_seconds{ledger=name}`. Read at each scrape; the ledger
/// must outlive the scrapes.
template <class Outbox>
  requires requires(const Outbox& o) {
    o.pending();
    o.oldest_pending_age();
  }
void watch_outbox(registry& r, const Outbox& outbox, std::string_view name = "durable") {
  r.watch("tollgate_outbox_pending", "Settlements in the durable outbox, owed and not yet landed.", {"ledger"}, {std::string(name)},
          [&outbox] { return static_cast<double>(outbox.pending()); });
  r.watch("tollgate_outbox_oldest_pending_age_seconds", "How long the oldest settlement in the outbox has waited (0 when empty).",
          {"ledger"}, {std::string(name)},
          [&outbox] { return std::chrono::duration<double>(outbox.oldest_pending_age()).count(); });
}

/// Exports a ledger's circuit breaker (credit_service_ledger's): `tollgate_circuit_breaker_state{ledger=name}`,
/// 0 closed, 1 open, 2 half-open.
template <class Ledger>
  requires requires(const Ledger& l) { l.circuit_state(); }
void watch_circuit(registry& r, const Ledger& ledger, std::string_view name = "credit_service") {
  r.watch("tollgate_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 open (calls refused at once), 2 half-open (probing).",
          {"ledger"}, {std::string(name)}, [&ledger] { return static_cast<double>(ledger.circuit_state()); });
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_LEDGER_GAUGES_HPP
