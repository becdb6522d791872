// SPDX-License-Identifier: MIT
// tollgate's metrics, framework-agnostic: registry, counters, gauges, histograms, the text exposition and
// ledger gauges. Serving them: tollgate/metrics/httplib.hpp or tollgate/metrics/beast.hpp (opt-in).
#ifndef TOLLGATE_METRICS_HPP
#define TOLLGATE_METRICS_HPP

#include <tollgate/metrics/callback_gauge.hpp>
#include <tollgate/metrics/counter.hpp>
#include <tollgate/metrics/exposition.hpp>
#include <tollgate/metrics/family.hpp>
#include <tollgate/metrics/gauge.hpp>
#include <tollgate/metrics/histogram.hpp>
#include <tollgate/metrics/ledger_gauges.hpp>
#include <tollgate/metrics/metering_metrics.hpp>
#include <tollgate/metrics/registry.hpp>
#include <tollgate/metrics/text_format.hpp>

#endif  // TOLLGATE_METRICS_HPP
