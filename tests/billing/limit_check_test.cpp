// The limit check: allowed or denied with the remaining amount, unlimited handled.
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/limit_check.hpp>
#include <tollgate/plans/tenant_overrides.hpp>

#include <doctest/doctest.h>

using plans = tollgate::default_plans;

static_assert(tollgate::check_limit(1, 0).allowed);
static_assert(!tollgate::check_limit(1, 1).allowed);

TEST_CASE("limit_check: the 2nd deployment on free is refused, the 1st allowed") {
  const auto free = *plans::find("free");
  const auto first = tollgate::check_limit<plans, "deployments">(free, /*usage=*/0);
  CHECK(first.allowed);
  CHECK(first.remaining == 1);
  const auto second = tollgate::check_limit<plans, "deployments">(free, /*usage=*/1);
  CHECK_FALSE(second.allowed);
  CHECK_FALSE(static_cast<bool>(second));
  CHECK(second.remaining == 0);
  CHECK(second.max == tollgate::limit_value(1));
  CHECK(second.usage == 1);
}

TEST_CASE("limit_check: growth allows 5 deployments and unlimited workers") {
  const auto growth = *plans::find("growth");
  CHECK(tollgate::check_limit(growth, "deployments", 4)->allowed);
  CHECK(tollgate::check_limit(growth, "deployments", 4)->remaining == 1);
  CHECK_FALSE(tollgate::check_limit(growth, "deployments", 5)->allowed);
  const auto workers = tollgate::check_limit(growth, "self_hosted_workers", 1'000'000, 1000);
  REQUIRE(workers.ok());
  CHECK(workers->allowed);
  CHECK_FALSE(workers->remaining.has_value());  // unlimited: no remaining amount
  CHECK(workers->max.is_unlimited());
}

TEST_CASE("limit_check: requesting several units at once counts them all") {
  const auto free = *plans::find("free");
  CHECK(tollgate::check_limit(free, "self_hosted_workers", 2, 3)->allowed);
  const auto too_many = tollgate::check_limit(free, "self_hosted_workers", 2, 4);
  CHECK_FALSE(too_many->allowed);
  CHECK(too_many->remaining == 3);
}

TEST_CASE("limit_check: usage above the limit leaves 0 remaining; negative usage counts as 0") {
  CHECK(tollgate::check_limit(5, 9).remaining == 0);
  CHECK_FALSE(tollgate::check_limit(5, 9).allowed);
  CHECK(tollgate::check_limit(5, -2).remaining == 5);
  CHECK(tollgate::check_limit(0, 0, 0).allowed);  // asking for nothing is always fine
  CHECK_FALSE(tollgate::check_limit(0, 0).allowed);
}

TEST_CASE("limit_check: an unknown limit name is an error, not a decision") {
  const auto r = tollgate::check_limit(plans::default_limits(), "seats", 0);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "unknown limit 'seats' in plan 'free'");
}

TEST_CASE("limit_check: a tenant override is what the check applies") {
  tollgate::tenant_overrides<plans> overrides;
  overrides.set<"deployments">("org-big", 3);
  const auto limits = overrides.apply("org-big", plans::default_limits());
  CHECK(tollgate::check_limit<plans, "deployments">(limits, 1).allowed);
  CHECK(tollgate::check_limit<plans, "deployments">(limits, 2).remaining == 1);
  CHECK_FALSE(tollgate::check_limit<plans, "deployments">(limits, 3).allowed);
}
