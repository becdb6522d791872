// plan_from_header: the contract's resolver, the plan from a request header.
#include <tollgate/http/request.hpp>
#include <tollgate/plans/plan_from_header.hpp>

#include <doctest/doctest.h>

using kind = tollgate::plan_resolution::kind;

TEST_CASE("plan_from_header: absent header means the default plan") {
  const tollgate::plan_from_header<"x-plan-type"> resolver;
  tollgate::basic_request r;
  const auto found = resolver.resolve(r, std::string_view("org-1"));
  CHECK(found.outcome == kind::default_plan);
}

TEST_CASE("plan_from_header: the value is returned as is, with the header it came from") {
  const tollgate::plan_from_header<"x-plan-type"> resolver;
  tollgate::basic_request r;
  r.with_header("X-Plan-Type", " FREE ");
  const auto found = resolver.resolve(r, std::nullopt);  // works without a tenant
  CHECK(found.outcome == kind::plan);
  CHECK(found.plan == "FREE");  // optional whitespace stripped, case kept: the table decides
  CHECK(found.header == "x-plan-type");
}

TEST_CASE("plan_from_header: an empty value is a value, not an absence") {
  const tollgate::plan_from_header<"x-plan-type"> resolver;
  tollgate::basic_request r;
  r.with_header("x-plan-type", "");
  const auto found = resolver.resolve(r, std::nullopt);
  CHECK(found.outcome == kind::plan);
  CHECK(found.plan.empty());
}
