// SPDX-License-Identifier: MIT
// default_plans: the contract's plan table (free 1/5, growth 5/unlimited, enterprise unlimited/unlimited).
#ifndef TOLLGATE_PLANS_DEFAULT_PLANS_HPP
#define TOLLGATE_PLANS_DEFAULT_PLANS_HPP

#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/plan.hpp>
#include <tollgate/plans/plan_table.hpp>

namespace tollgate {

/// The billing-limits contract's plans; `free` is the default.
using default_plans = plan_table<
    plan<"free", limit<"deployments", 1>, limit<"self_hosted_workers", 5>>,
    plan<"growth", limit<"deployments", 5>, limit<"self_hosted_workers", unlimited>>,
    plan<"enterprise", limit<"deployments", unlimited>, limit<"self_hosted_workers", unlimited>>>;

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_DEFAULT_PLANS_HPP
