// SPDX-License-Identifier: MIT
// Plan limits served over HTTP (opt-in: needs cpp-httplib, nlohmann_json and libcrypto): plan tables,
// HS256 JWT, the GET /billing/limits and GET /billing/usage endpoints on cpp-httplib, usage tracking.
#ifndef TOLLGATE_BILLING_HPP
#define TOLLGATE_BILLING_HPP

#include <tollgate/jwt.hpp>
#include <tollgate/plans.hpp>
#include <tollgate/usage.hpp>

#include <tollgate/billing/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/plan_webhook.hpp>
#include <tollgate/billing/usage_endpoint.hpp>

#endif  // TOLLGATE_BILLING_HPP
