// Proves the generated single headers stand alone: their tollgate includes resolve in single_include/.
// (tests/packaging/single_header.cmake goes further: copies of the files, and include/ not on the path.)
#include <doctest/doctest.h>

#include <tollgate/tollgate.hpp>
#include <tollgate/plans.hpp>

#ifndef TOLLGATE_SINGLE_HEADER
#error "single_include/tollgate/tollgate.hpp was not the header found"
#endif

using namespace tollgate::literals;

TEST_CASE("single header: the core works from the amalgamated file") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 3_cr);
  ledger.add_credential("u", "u");
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.25_cr>> m{
      ledger, [](const tollgate::basic_request&, tollgate::basic_response& res) { res.set_content("ok", "text/plain"); }};
  tollgate::basic_request req;
  req.with_header("X-User-ID", "u");
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.body() == "ok");
  CHECK(ledger.balance("u") == 2.75_cr);
}

TEST_CASE("single header: plan tables and limit checks, from plans.hpp") {
  using plans = tollgate::default_plans;
  static_assert(plans::limit_of<"free", "deployments">() == tollgate::limit_value(1));
  const auto free = *plans::find("free");
  CHECK(tollgate::check_limit<plans, "deployments">(free, 0).allowed);
  CHECK_FALSE(tollgate::check_limit<plans, "deployments">(free, 1).allowed);
}
