// SPDX-License-Identifier: MIT
// Plan limits, the core part: plan tables as types, overrides, limit checks, tenant→plan resolvers.
// No JSON and no HTTP framework here; the endpoint is tollgate/billing/limits_endpoint.hpp.
#ifndef TOLLGATE_PLANS_HPP
#define TOLLGATE_PLANS_HPP

#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/soft_limit.hpp>
#include <tollgate/plans/lookup_result.hpp>
#include <tollgate/plans/plan.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_table.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/tenant_overrides.hpp>
#include <tollgate/plans/limit_check.hpp>
#include <tollgate/plans/plan_resolver.hpp>
#include <tollgate/plans/plan_from_header.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>
#include <tollgate/plans/plan_store.hpp>
#include <tollgate/plans/tenant_limits.hpp>

#endif  // TOLLGATE_PLANS_HPP
