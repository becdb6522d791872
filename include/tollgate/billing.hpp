// SPDX-License-Identifier: MIT
// Plan limits served over HTTP (opt-in: needs cpp-httplib, nlohmann_json and libcrypto): plan tables,
// HS256 JWT and the GET /billing/limits endpoint on cpp-httplib.
#ifndef TOLLGATE_BILLING_HPP
#define TOLLGATE_BILLING_HPP

#include <tollgate/jwt.hpp>
#include <tollgate/plans.hpp>

#include <tollgate/billing/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/plan_webhook.hpp>

#endif  // TOLLGATE_BILLING_HPP
