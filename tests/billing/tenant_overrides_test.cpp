// Per-tenant overrides of individual limits over the plan defaults.
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/tenant_overrides.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using plans = tollgate::default_plans;

TEST_CASE("tenant_overrides: an override replaces one limit for one tenant only") {
  tollgate::tenant_overrides<plans> overrides;
  overrides.set<"deployments">("org-42", 3);
  const auto mine = overrides.apply("org-42", plans::default_limits());
  CHECK(mine.plan() == "free");
  CHECK(mine.find("deployments") == tollgate::limit_value(3));
  CHECK(mine.find("self_hosted_workers") == tollgate::limit_value(5));  // untouched
  const auto other = overrides.apply("org-7", plans::default_limits());
  CHECK(other == plans::default_limits());
}

TEST_CASE("tenant_overrides: an override can lift a limit to unlimited or lower an unlimited one") {
  tollgate::tenant_overrides<plans> overrides;
  overrides.set<"self_hosted_workers">("org-1", tollgate::unlimited);
  overrides.set<"deployments">("org-2", 10);
  CHECK(overrides.apply("org-1", *plans::find("free")).find("self_hosted_workers")->is_unlimited());
  CHECK(overrides.apply("org-2", *plans::find("enterprise")).find("deployments") == tollgate::limit_value(10));
}

TEST_CASE("tenant_overrides: run-time names are checked and errors name the known limits") {
  tollgate::tenant_overrides<plans> overrides;
  const auto bad = overrides.set("org-1", "seats", 3);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error() == "unknown limit 'seats': expected 'deployments' or 'self_hosted_workers'");
  CHECK(overrides.apply("org-1", plans::default_limits()) == plans::default_limits());
  const auto good = overrides.set("org-1", "deployments", 2);
  REQUIRE(good.ok());
  CHECK(*good == tollgate::limit_value(2));
  CHECK(overrides.apply("org-1", plans::default_limits()).find("deployments") == tollgate::limit_value(2));
}

TEST_CASE("tenant_overrides: erase removes one override or all of a tenant's") {
  tollgate::tenant_overrides<plans> overrides;
  overrides.set<"deployments">("org-1", 9);
  overrides.set<"self_hosted_workers">("org-1", 9);
  CHECK(overrides.erase("org-1", "deployments"));
  CHECK_FALSE(overrides.erase("org-1", "deployments"));
  auto limits = overrides.apply("org-1", plans::default_limits());
  CHECK(limits.find("deployments") == tollgate::limit_value(1));
  CHECK(limits.find("self_hosted_workers") == tollgate::limit_value(9));
  overrides.erase("org-1");
  CHECK(overrides.apply("org-1", plans::default_limits()) == plans::default_limits());
}

TEST_CASE("tenant_overrides: concurrent writers and readers see either the old or the new value") {
  tollgate::tenant_overrides<plans> overrides;
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (t % 2 == 0) {
          overrides.set<"deployments">("org-x", (i % 2) ? 2 : 3);
        } else {
          const auto v = overrides.apply("org-x", plans::default_limits()).find("deployments")->max();
          if (v != 1 && v != 2 && v != 3) bad = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(bad.load());
}
