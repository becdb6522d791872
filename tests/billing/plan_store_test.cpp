// plan_store: validated all-or-nothing assignments, ordering, the resolver interface, and cached_plan_lookup over it.
#include <tollgate/plans/cached_plan_lookup.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_store.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

namespace {
using store_type = tollgate::plan_store<tollgate::default_plans>;
static_assert(tollgate::plan_resolver<store_type>);

tollgate::plan_limits effective(const store_type& store, std::string_view tenant) {
  auto limits = *tollgate::default_plans::find(*store.plan_of(tenant));
  return store.overrides()->apply(tenant, std::move(limits));
}
std::optional<std::int64_t> deployments(const tollgate::plan_limits& limits) {
  for (const auto& e : limits.entries())
    if (e.name == "deployments") return e.value.to_optional();
  return -1;
}
}  // namespace

TEST_CASE("plan_store: assign sets the plan and replaces all overrides") {
  store_type store;
  CHECK_FALSE(store.plan_of("org-1"));
  auto r = store.assign("org-1", {"growth", {{"deployments", 8}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(*r == store_type::outcome::changed);
  CHECK(store.plan_of("org-1") == "growth");
  CHECK(deployments(effective(store, "org-1")) == 8);
  REQUIRE(store.assign("org-1", {"enterprise", {}}).ok());  // no overrides: back to the plan's own limits
  CHECK(deployments(effective(store, "org-1")) == std::nullopt);
  REQUIRE(store.assign("org-1", {"free", {{"deployments", tollgate::unlimited}}}).ok());
  CHECK(deployments(effective(store, "org-1")) == std::nullopt);
  CHECK(store.size() == 1);
}

TEST_CASE("plan_store: an unknown plan or limit changes nothing and says what is expected") {
  store_type store;
  REQUIRE(store.assign("org-1", {"growth", {{"deployments", 8}}}).ok());
  auto bad_plan = store.assign("org-1", {"platinum", {}});
  CHECK_FALSE(bad_plan.ok());
  CHECK(bad_plan.error() == "unknown plan 'platinum': expected 'free', 'growth' or 'enterprise'");
  auto bad_limit = store.assign("org-1", {"free", {{"deployments", 1}, {"seats", 3}}});
  CHECK_FALSE(bad_limit.ok());
  CHECK(bad_limit.error() == "unknown limit 'seats': expected 'deployments' or 'self_hosted_workers'");
  CHECK(store.plan_of("org-1") == "growth");
  CHECK(deployments(effective(store, "org-1")) == 8);
  CHECK_FALSE(store.assign("org-2", {"platinum", {}}).ok());
  CHECK_FALSE(store.plan_of("org-2"));
}

TEST_CASE("plan_store: a change dated before the last applied one is outdated and changes nothing") {
  store_type store;
  REQUIRE(store.assign("org-1", {"growth", {}}, 200).ok());
  auto older = store.assign("org-1", {"free", {{"deployments", 0}}}, 100);
  REQUIRE(older.ok());
  CHECK(*older == store_type::outcome::outdated);
  CHECK(store.plan_of("org-1") == "growth");
  CHECK(deployments(effective(store, "org-1")) == 5);
  CHECK(*store.assign("org-1", {"enterprise", {}}, 200) == store_type::outcome::changed);  // same time: applies
  CHECK(*store.assign("org-1", {"free", {}}) == store_type::outcome::changed);             // undated: applies
  CHECK(*store.assign("org-1", {"growth", {}}, 150) == store_type::outcome::outdated);     // the 200 is remembered
}

TEST_CASE("plan_store: as a plan_resolver") {
  const tollgate::basic_request req;
  const tollgate::request_ref ref(req);
  store_type store;
  REQUIRE(store.assign("org-1", {"growth", {}}).ok());
  CHECK(store.resolve(ref, "org-1").outcome == tollgate::plan_resolution::kind::plan);
  CHECK(store.resolve(ref, "org-1").plan == "growth");
  CHECK(store.resolve(ref, "org-2").outcome == tollgate::plan_resolution::kind::unknown_tenant);
  CHECK(store.resolve(ref, std::nullopt).outcome == tollgate::plan_resolution::kind::not_applicable);
  store_type defaulting{store_type::unknown_tenants::default_plan};
  CHECK(defaulting.resolve(ref, "org-2").outcome == tollgate::plan_resolution::kind::default_plan);
  store.erase("org-1");
  CHECK_FALSE(store.plan_of("org-1"));
}

TEST_CASE("plan_store: behind cached_plan_lookup, invalidate shows a change at once") {
  auto store = std::make_shared<store_type>();
  REQUIRE(store->assign("org-1", {"free", {}}).ok());
  std::atomic<int> calls{0};
  tollgate::cached_plan_lookup cache{[store, &calls](std::string_view tenant) {
    ++calls;
    return store->plan_of(tenant);
  }};
  CHECK(cache.plan_of("org-1") == "free");
  REQUIRE(store->assign("org-1", {"growth", {}}).ok());
  CHECK(cache.plan_of("org-1") == "free");  // cached for the TTL...
  cache.invalidate("org-1");
  CHECK(cache.plan_of("org-1") == "growth");  // ...until invalidated
  CHECK(calls.load() == 2);
}

TEST_CASE("plan_store: readers and writers at once") {
  store_type store;
  REQUIRE(store.assign("org-1", {"free", {}}).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const auto plan = store.plan_of("org-1");
      if (!plan || (*plan != "free" && *plan != "growth")) ++bad;
      (void)effective(store, "org-1");
    }
  });
  for (int i = 0; i < 2000; ++i) REQUIRE(store.assign("org-1", {i % 2 ? "growth" : "free", {{"deployments", i}}}, i).ok());
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(store.plan_of("org-1") == "growth");
  CHECK(deployments(effective(store, "org-1")) == 1999);
}
