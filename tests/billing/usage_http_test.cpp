// limited<> and GET /billing/usage over real loopback HTTP: limits enforced, failures undone, soft limits charged.
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/billing/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/usage_endpoint.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/plans.hpp>
#include <tollgate/usage/limited.hpp>
#include <tollgate/usage/memory_usage_store.hpp>

#include <atomic>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/http_server.hpp"

namespace {

using namespace tollgate::literals;
using tollgate::hard;
using tollgate::limit;
using tollgate::overage_price;
using tollgate::plan;
using tollgate::soft_limit;

// The contract's free plan, and two plans whose deployments are soft limits.
using soft_plans = tollgate::plan_table<
    plan<"free", limit<"deployments", 1>, limit<"workers", 5>>,
    plan<"pro", soft_limit<"deployments", 5, overage_price<2.0_cr>, hard<10>>, limit<"workers", tollgate::unlimited>>,
    plan<"scale", soft_limit<"deployments", 2, overage_price<0.25_cr>>, limit<"workers", tollgate::unlimited>>>;

static_assert(soft_plans::limit_of<"pro", "deployments">() == tollgate::limit_value(5));  // the soft limit is what the plan includes

using tenant_header = tollgate::from_header<"tenant-id">;

// A server with POST /deployments and DELETE /deployments/{id} counted against soft_plans, the
// usage endpoint, and the limits endpoint. x-fail: throw | 500 makes the create handler fail.
struct fixture {
  tollgate::memory_usage_store store;
  tollgate::tenant_limits<soft_plans> plans;
  tollgate::memory_ledger ledger;
  std::atomic<int> creates_run{0};
  std::atomic<int> deletes_run{0};
  tollgate::testing::http_server http;

  explicit fixture(tollgate::billing::endpoint_options options = tollgate::billing::endpoint_options::auth_disabled()) {
    options.log = tollgate::logger::silent();
    tollgate::tune(http.server);
    tollgate::limited_config config;
    config.log = tollgate::logger::silent();
    http.server.Post("/deployments", tollgate::limited<"deployments", tenant_header>{store, plans, ledger,
        [this](const httplib::Request& req, httplib::Response& res) {
          ++creates_run;
          const std::string fail = req.get_header_value("x-fail");
          if (fail == "throw") throw std::runtime_error("the deployment failed");
          if (fail == "500") {
            res.status = 500;
            res.set_content(R"({"detail":"boom"})", "application/json");
            return;
          }
          res.status = 201;
          res.set_content(R"({"id":"d"})", "application/json");
        }, config});
    http.server.Delete(R"(/deployments/(\w+))", tollgate::limited<"deployments", tenant_header, tollgate::releases>{store, plans,
        [this](const httplib::Request& req, httplib::Response& res) {
          ++deletes_run;
          res.status = req.has_header("x-missing") ? 404 : 204;
        }, config});
    auto usage = std::make_shared<tollgate::billing::usage_endpoint<soft_plans>>(store, options);
    tollgate::billing::mount_usage(http.server, usage);
    tollgate::billing::mount(http.server, std::make_shared<tollgate::billing::limits_endpoint<soft_plans>>(options));
    http.start();
  }

  httplib::Result create(const std::string& tenant, const std::string& plan_name, httplib::Headers extra = {}) {
    auto c = http.client();
    extra.emplace("tenant-id", tenant);
    extra.emplace("x-plan-type", plan_name);
    return c.Post("/deployments", extra, "", "application/json");
  }
  httplib::Result remove(const std::string& tenant, const std::string& id, httplib::Headers extra = {}) {
    auto c = http.client();
    extra.emplace("tenant-id", tenant);
    return c.Delete("/deployments/" + id, extra);
  }
  nlohmann::json usage_of(const std::string& tenant, const std::string& plan_name) {
    auto c = http.client();
    auto r = c.Get("/billing/usage", {{"tenant-id", tenant}, {"x-plan-type", plan_name}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return nlohmann::json::parse(r->body);
  }
  std::int64_t used(const std::string& tenant) { return *store.usage(tenant, "deployments"); }
};

std::string detail_of(const httplib::Result& r) { return nlohmann::json::parse(r->body).at("detail").get<std::string>(); }

}  // namespace

TEST_CASE("limited: the 2nd deployment on the free plan is refused 403 and its handler never runs") {
  fixture f;
  auto first = f.create("org-1", "free");
  REQUIRE(first);
  CHECK(first->status == 201);
  auto second = f.create("org-1", "free");
  REQUIRE(second);
  CHECK(second->status == 403);
  CHECK(second->get_header_value("Content-Type") == "application/json");
  CHECK(detail_of(second) == "Plan limit reached: plan 'free' allows 1 deployments (1 in use); delete one or upgrade the plan");
  CHECK(f.creates_run.load() == 1);
  CHECK(f.used("org-1") == 1);
  CHECK(f.create("org-2", "free")->status == 201);  // another tenant has its own count
}

TEST_CASE("limited: a handler that throws or answers 5xx gives its acquisition back") {
  fixture f;
  auto thrown = f.create("org-1", "free", {{"x-fail", "throw"}});
  REQUIRE(thrown);
  CHECK(thrown->status == 500);
  CHECK(f.used("org-1") == 0);
  auto failed = f.create("org-1", "free", {{"x-fail", "500"}});
  REQUIRE(failed);
  CHECK(failed->status == 500);
  CHECK(f.used("org-1") == 0);
  CHECK(f.create("org-1", "free")->status == 201);  // the one allowed deployment is still available
  CHECK(f.used("org-1") == 1);
}

TEST_CASE("limited: a retried create with the same Idempotency-Key counts once") {
  fixture f;
  CHECK(f.create("org-1", "free", {{"Idempotency-Key", "create-7"}})->status == 201);
  CHECK(f.create("org-1", "free", {{"Idempotency-Key", "create-7"}})->status == 201);  // the retry is answered
  CHECK(f.used("org-1") == 1);
  CHECK(f.create("org-1", "free", {{"Idempotency-Key", "create-8"}})->status == 403);
  // A failed try forgets its key: retrying it counts afresh.
  fixture g;
  CHECK(g.create("org-1", "free", {{"Idempotency-Key", "k"}, {"x-fail", "500"}})->status == 500);
  CHECK(g.create("org-1", "free", {{"Idempotency-Key", "k"}})->status == 201);
  CHECK(g.used("org-1") == 1);
  auto too_long = g.create("org-1", "free", {{"Idempotency-Key", std::string(300, 'k')}});
  REQUIRE(too_long);
  CHECK(too_long->status == 400);
}

TEST_CASE("limited: a delete releases on 2xx, once per Idempotency-Key, and a 404 releases nothing") {
  fixture f;
  for (int i = 0; i < 4; ++i) CHECK(f.create("org-1", "pro")->status == 201);
  CHECK(f.remove("org-1", "d1", {{"x-missing", "1"}})->status == 404);
  CHECK(f.used("org-1") == 4);
  CHECK(f.remove("org-1", "d1", {{"Idempotency-Key", "delete-d1"}})->status == 204);
  CHECK(f.used("org-1") == 3);
  CHECK(f.remove("org-1", "d1", {{"Idempotency-Key", "delete-d1"}})->status == 204);  // a retried DELETE
  CHECK(f.used("org-1") == 3);
  // Without a key each successful delete releases: "web" deleted, made again, deleted again.
  CHECK(f.remove("org-1", "web")->status == 204);
  CHECK(f.remove("org-1", "web")->status == 204);
  CHECK(f.used("org-1") == 1);
  CHECK(f.remove("org-1", "d2")->status == 204);
  CHECK(f.remove("org-1", "d3")->status == 204);
  CHECK(f.used("org-1") == 0);  // never below zero
  // Free plan: after the delete, a new deployment fits again.
  CHECK(f.create("org-2", "free")->status == 201);
  CHECK(f.remove("org-2", "x")->status == 204);
  CHECK(f.create("org-2", "free")->status == 201);
}

TEST_CASE("limited: bad requests get a clear 4xx") {
  fixture f;
  auto c = f.http.client();
  auto no_tenant = c.Post("/deployments", "", "application/json");
  REQUIRE(no_tenant);
  CHECK(no_tenant->status == 401);
  CHECK(detail_of(no_tenant) == "Missing tenant id: expected the tenant-id header");
  auto bad_plan = f.create("org-1", "platinum");
  REQUIRE(bad_plan);
  CHECK(bad_plan->status == 422);
  CHECK(detail_of(bad_plan) == "Unknown plan in header x-plan-type: expected 'free', 'pro' or 'scale'");
  CHECK(f.creates_run.load() == 0);
}

TEST_CASE("limited: concurrent creates racing for the last units get exactly the limit") {
  fixture f;
  auto race = [&f](const std::string& tenant, const std::string& plan_name) {
    std::atomic<int> created{0}, refused{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 24; ++i)
      clients.emplace_back([&] {
        auto c = f.http.client();
        auto r = c.Post("/deployments", {{"tenant-id", tenant}, {"x-plan-type", plan_name}}, "", "application/json");
        if (r && r->status == 201) ++created;
        else if (r && (r->status == 403 || r->status == 402)) ++refused;
      });
    for (auto& t : clients) t.join();
    CHECK(created.load() + refused.load() == 24);
    return created.load();
  };
  CHECK(race("org-free", "free") == 1);
  CHECK(f.used("org-free") == 1);
  // pro is soft at 5: the units past it need credits this tenant has not got (402), or meet the
  // ceiling while others hold them (403); either way exactly five are made.
  CHECK(race("org-pro", "pro") == 5);
  CHECK(f.used("org-pro") == 5);
}

TEST_CASE("soft limit: the 6th deployment on a soft limit of 5 charges exactly the overage price") {
  fixture f;
  REQUIRE(f.ledger.add_user("org-1", 100_cr));
  REQUIRE(f.ledger.add_credential("org-1", "org-1"));
  for (int i = 0; i < 5; ++i) REQUIRE(f.create("org-1", "pro")->status == 201);
  CHECK(*f.ledger.balance("org-1") == 100_cr);  // within the plan: free of charge
  auto sixth = f.create("org-1", "pro");
  REQUIRE(sixth);
  CHECK(sixth->status == 201);
  CHECK(*f.ledger.balance("org-1") == 98_cr);
  CHECK(f.used("org-1") == 6);
  const auto usage = f.usage_of("org-1", "pro");
  CHECK(usage.dump() ==
        R"({"plan_type":"pro","tenant_id":"org-1","usage":{"deployments":{"hard_limit":10,"limit":5,"overage":1,"overage_price":2,"remaining":0,"used":6},"workers":{"limit":null,"remaining":null,"used":0}}})");
  // Deleting below the soft limit and creating again is free again.
  CHECK(f.remove("org-1", "a")->status == 204);
  CHECK(f.remove("org-1", "b")->status == 204);
  CHECK(f.create("org-1", "pro")->status == 201);
  CHECK(*f.ledger.balance("org-1") == 98_cr);
}

TEST_CASE("soft limit: with an empty balance the overage is refused 402 and nothing is acquired") {
  fixture f;
  REQUIRE(f.ledger.add_user("org-poor", 0_cr));
  REQUIRE(f.ledger.add_credential("org-poor", "org-poor"));
  for (int i = 0; i < 5; ++i) REQUIRE(f.create("org-poor", "pro")->status == 201);
  const int ran = f.creates_run.load();
  auto sixth = f.create("org-poor", "pro");
  REQUIRE(sixth);
  CHECK(sixth->status == 402);
  CHECK(detail_of(sixth) == "Insufficient balance for the overage: 1 deployments above the 5 included cost 2 (at 2 each)");
  CHECK(f.creates_run.load() == ran);  // the handler never ran
  CHECK(f.used("org-poor") == 5);
  CHECK(*f.ledger.balance("org-poor") == 0_cr);
}

TEST_CASE("soft limit: the hard ceiling refuses whatever the balance") {
  fixture f;
  REQUIRE(f.ledger.add_user("org-rich", 1000_cr));
  REQUIRE(f.ledger.add_credential("org-rich", "org-rich"));
  for (int i = 0; i < 10; ++i) REQUIRE(f.create("org-rich", "pro")->status == 201);
  auto eleventh = f.create("org-rich", "pro");
  REQUIRE(eleventh);
  CHECK(eleventh->status == 403);
  CHECK(detail_of(eleventh) == "Hard limit reached: plan 'pro' allows at most 10 deployments (10 in use, 5 included)");
  CHECK(*f.ledger.balance("org-rich") == 990_cr);  // five units over, 2 each
  CHECK(f.used("org-rich") == 10);
}

TEST_CASE("soft limit: a failed handler refunds the overage in full and gives the unit back") {
  fixture f;
  REQUIRE(f.ledger.add_user("org-1", 10_cr));
  REQUIRE(f.ledger.add_credential("org-1", "org-1"));
  for (int i = 0; i < 2; ++i) REQUIRE(f.create("org-1", "scale")->status == 201);
  CHECK(f.create("org-1", "scale", {{"x-fail", "throw"}})->status == 500);
  CHECK(f.create("org-1", "scale", {{"x-fail", "500"}})->status == 500);
  CHECK(*f.ledger.balance("org-1") == 10_cr);
  CHECK(f.used("org-1") == 2);
  CHECK(f.create("org-1", "scale")->status == 201);  // no ceiling: 0.25 per unit over
  CHECK(*f.ledger.balance("org-1") == 9.75_cr);
}

TEST_CASE("billing usage: same authentication and errors as /billing/limits") {
  fixture f(tollgate::billing::endpoint_options::with_secret(tollgate::redacted{"usage-secret"}));
  auto c = f.http.client();
  for (const std::string path : {"/billing/limits", "/billing/usage"}) {
    INFO(path);
    auto missing = c.Get(path);
    REQUIRE(missing);
    CHECK(missing->status == 401);
    CHECK(missing->get_header_value("WWW-Authenticate") == "Bearer");
    CHECK(missing->body == R"({"detail":"Missing authorization header"})");
    auto invalid = c.Get(path, {{"Authorization", "Bearer invalid-token"}, {"tenant-id", "org-1"}});
    REQUIRE(invalid);
    CHECK(invalid->status == 401);
    CHECK(invalid->body == R"({"detail":"Invalid token. Error: Not enough segments"})");
    const auto now = static_cast<long long>(std::time(nullptr));
    const std::string token = tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 60}}, "usage-secret");
    auto no_tenant = c.Get(path, {{"Authorization", "Bearer " + token}});
    REQUIRE(no_tenant);
    CHECK(no_tenant->status == 422);
    CHECK(no_tenant->body == R"({"detail":[{"type":"missing","loc":["header","tenant-id"],"msg":"Field required","input":null}]})");
    auto ok = c.Get(path, {{"Authorization", "Bearer " + token}, {"tenant-id", "org-1"}});
    REQUIRE(ok);
    CHECK(ok->status == 200);
    auto post = c.Post(path, "", "application/json");
    REQUIRE(post);
    CHECK(post->status == 405);
  }
}

TEST_CASE("billing usage: used, limit and remaining per limit, unlimited as null") {
  fixture f;
  CHECK(f.create("org-1", "free")->status == 201);
  auto c = f.http.client();
  auto r = c.Get("/billing/usage", {{"tenant-id", "org-1"}});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body ==
        R"({"tenant_id":"org-1","usage":{"deployments":{"used":1,"limit":1,"remaining":0},"workers":{"used":0,"limit":5,"remaining":5}},"plan_type":"free"})");
  // /billing/limits reports a soft limit as the units the plan includes.
  auto limits = c.Get("/billing/limits", {{"tenant-id", "org-1"}, {"x-plan-type", "pro"}});
  REQUIRE(limits);
  CHECK(limits->body == R"({"tenant_id":"org-1","limits":{"deployments":5,"workers":null,"plan_type":"pro"}})");
}

TEST_CASE("soft limit: a tenant override raises the included units past the ceiling, or lifts the limit") {
  auto overrides = std::make_shared<tollgate::tenant_overrides<soft_plans>>();
  overrides->set<"deployments">("org-contract", 12);                 // 12 included, above pro's ceiling of 10
  overrides->set<"deployments">("org-unlimited", tollgate::unlimited);
  tollgate::memory_usage_store store;
  tollgate::tenant_limits<soft_plans> plans({}, overrides);
  tollgate::memory_ledger ledger;  // nobody has an account: any overage charge would be refused 402
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  tollgate::limited_config config;
  config.log = tollgate::logger::silent();
  http.server.Post("/deployments", tollgate::limited<"deployments", tenant_header>{store, plans, ledger,
      [](const httplib::Request&, httplib::Response& res) { res.status = 201; }, config});
  http.start();
  auto c = http.client();
  auto create = [&c](const std::string& tenant) {
    return c.Post("/deployments", {{"tenant-id", tenant}, {"x-plan-type", "pro"}}, "", "application/json")->status;
  };
  for (int i = 0; i < 12; ++i) CHECK(create("org-contract") == 201);  // all included: no charge asked
  CHECK(create("org-contract") == 403);
  for (int i = 0; i < 20; ++i) CHECK(create("org-unlimited") == 201);
  CHECK(*store.usage("org-unlimited", "deployments") == 20);
}
