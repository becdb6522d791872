// Plan tables as types: compile-time facts, run-time lookup by name, the contract's default table.
#include <tollgate/plans.hpp>

#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace {
using tollgate::as_default;
using tollgate::limit;
using tollgate::limit_value;
using tollgate::plan;
using tollgate::plan_table;
using tollgate::unlimited;
using plans = tollgate::default_plans;

// A table whose second plan is marked as the default, and whose plans list limits in different orders.
using seats_table = plan_table<
    plan<"solo", limit<"seats", 1>, limit<"projects", 3>>,
    as_default<plan<"team", limit<"projects", unlimited>, limit<"seats", 10>>>,
    plan<"org", limit<"seats", unlimited>, limit<"projects", unlimited>>>;

// Static facts: the contract's table, checked by the compiler.
static_assert(plans::plan_count == 3);
static_assert(plans::limit_count == 2);
static_assert(plans::limit_names[0] == "deployments" && plans::limit_names[1] == "self_hosted_workers");
static_assert(plans::default_plan_name == "free");
static_assert(plans::limit_of<"free", "deployments">() == limit_value(1));
static_assert(plans::limit_of<"free", "self_hosted_workers">() == limit_value(5));
static_assert(plans::limit_of<"growth", "deployments">() == limit_value(5));
static_assert(plans::limit_of<"growth", "self_hosted_workers">().is_unlimited());
static_assert(plans::limit_of<"enterprise", "deployments">().is_unlimited());
static_assert(plans::limit_of<"enterprise", "self_hosted_workers">().is_unlimited());
static_assert(plans::has_plan<"growth"> && !plans::has_plan<"FREE"> && !plans::has_plan<"pro">);
static_assert(plans::has_limit<"deployments"> && !plans::has_limit<"seats">);
static_assert(seats_table::default_plan_name == "team");
static_assert(seats_table::limit_names[0] == "seats");  // the first plan's order
static_assert(seats_table::limit_of<"team", "seats">() == limit_value(10));
static_assert(seats_table::limit_of<"team", "projects">().is_unlimited());
static_assert(limit<"x", 0>::max == limit_value(0));
static_assert(!limit_value(tollgate::unlimited).to_optional().has_value());
static_assert(limit_value(7).to_optional() == 7);
}  // namespace

// The original's test cases 1–3: the plan table.
TEST_CASE("plans: free plan is 1 deployment and 5 self-hosted workers (original case 1)") {
  const auto free = plans::find("free");
  REQUIRE(free);
  CHECK(free->plan() == "free");
  REQUIRE(free->entries().size() == 2);
  CHECK(free->entries()[0].name == "deployments");
  CHECK(free->entries()[0].value.to_optional() == 1);
  CHECK(free->entries()[1].name == "self_hosted_workers");
  CHECK(free->entries()[1].value.to_optional() == 5);
}

TEST_CASE("plans: growth plan is 5 deployments and unlimited workers (original case 2)") {
  const auto growth = plans::find("growth");
  REQUIRE(growth);
  CHECK(growth->find("deployments")->to_optional() == 5);
  CHECK(growth->find("self_hosted_workers")->is_unlimited());
}

TEST_CASE("plans: enterprise plan is unlimited on both limits (original case 3)") {
  const auto enterprise = plans::find("enterprise");
  REQUIRE(enterprise);
  CHECK(enterprise->find("deployments")->is_unlimited());
  CHECK(enterprise->find("self_hosted_workers")->is_unlimited());
}

TEST_CASE("plans: run-time lookup is case-sensitive and names the choices on failure") {
  CHECK_FALSE(plans::find("FREE"));
  CHECK_FALSE(plans::find(""));
  CHECK_FALSE(plans::find("free "));
  const auto missing = plans::lookup("pro");
  CHECK_FALSE(missing.ok());
  CHECK(missing.error() == "unknown plan 'pro': expected 'free', 'growth' or 'enterprise'");
  CHECK_THROWS_WITH_AS((void)missing.value(), "unknown plan 'pro': expected 'free', 'growth' or 'enterprise'", std::logic_error);
  const auto growth = plans::lookup("growth");
  REQUIRE(growth.ok());
  CHECK(growth.error().empty());
  CHECK(growth->plan() == "growth");
}

TEST_CASE("plans: the default plan is the first one unless another is marked as_default") {
  CHECK(plans::default_limits().plan() == "free");
  const auto team = seats_table::default_limits();
  CHECK(team.plan() == "team");
  // Limits come out in the first plan's order whatever order a plan declared them in.
  REQUIRE(team.entries().size() == 2);
  CHECK(team.entries()[0] == tollgate::limit_entry{"seats", 10});
  CHECK(team.entries()[1] == tollgate::limit_entry{"projects", tollgate::unlimited});
}

TEST_CASE("plans: expected_names quotes and joins names like the 422 body") {
  CHECK(plans::expected_names() == "'free', 'growth' or 'enterprise'");
  CHECK(plan_table<plan<"a", limit<"x", 1>>>::expected_names() == "'a'");
  CHECK(plan_table<plan<"a", limit<"x", 1>>, plan<"b", limit<"x", 2>>>::expected_names() == "'a' or 'b'");
}

TEST_CASE("plans: plan_limits::set changes a known limit and refuses an unknown one") {
  auto free = plans::default_limits();
  CHECK(free.set("deployments", 4));
  CHECK(free.find("deployments") == limit_value(4));
  CHECK_FALSE(free.set("seats", 4));
  CHECK_FALSE(free.find("seats"));
  CHECK(free != plans::default_limits());
}

TEST_CASE("plans: limit_value clamps negatives to zero and defaults to zero") {
  CHECK(limit_value(-3).max() == 0);
  CHECK(limit_value().max() == 0);
  CHECK_FALSE(limit_value().is_unlimited());
  CHECK(limit_value(tollgate::unlimited) != limit_value(0));
}

TEST_CASE("plans: a limit entry still binds as [name, value] now that it carries overage terms") {
  const auto free_plan = tollgate::default_plans::lookup("free");
  REQUIRE(free_plan);
  std::vector<std::string> seen;
  for (const auto& [name, value] : free_plan->entries()) seen.push_back(std::string(name) + "=" + std::to_string(value.max()));
  CHECK(seen == std::vector<std::string>{"deployments=1", "self_hosted_workers=5"});
  for (auto [name, value] : free_plan->entries()) CHECK_FALSE(name.empty());  // by copy too
  CHECK_FALSE(free_plan->entries().front().overage.has_value());  // a hard limit: no overage terms
}
