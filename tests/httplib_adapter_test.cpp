// End-to-end tests through a real cpp-httplib server on loopback: metered routes, statuses, refunds.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/tollgate.hpp>

#include "support/http_server.hpp"

using namespace tollgate::literals;
using tollgate::credits;

namespace {
using bearer_metered_fixed = tollgate::metered<tollgate::from_bearer, tollgate::estimate<2_cr>, tollgate::fixed_cost<0.5_cr>>;

struct fixture {
  tollgate::memory_ledger ledger;
  tollgate::testing::http_server http;

  fixture() {
    ledger.add_user("alice", 10_cr);
    ledger.add_credential("sk-alice", "alice");
    http.server.Get("/fixed", bearer_metered_fixed{ledger, [](const httplib::Request& req, httplib::Response& res) {
                                                     res.set_content("hello " + req.get_param_value("name"), "text/plain");
                                                   }, {tollgate::logger::silent(), {}}});
    http.server.Get("/throws", tollgate::metered<tollgate::from_bearer, tollgate::estimate<2_cr>>{
                                   ledger, [](const httplib::Request&, httplib::Response&) { throw std::runtime_error("handler failed"); },
                                   {tollgate::logger::silent(), {}}});
    http.server.Post("/sized", tollgate::metered<tollgate::from_bearer, tollgate::estimate<3_cr>, tollgate::by_response_size<0_cr, 1_cr>>{
                                   ledger, [](const httplib::Request& req, httplib::Response& res) {
                                     res.set_content(std::string(std::stoul(req.body), 'x'), "text/plain");
                                   }});
    http.server.Get("/sized-get", tollgate::metered<tollgate::from_bearer, tollgate::estimate<3_cr>, tollgate::by_response_size<0.25_cr, 1_cr>>{
                                      ledger, [](const httplib::Request&, httplib::Response& res) {
                                        res.set_content(std::string(2048, 'x'), "text/plain");
                                      }});
    // Estimate = cost: available only falls, so concurrent outcomes are deterministic.
    http.server.Get("/half", tollgate::metered<tollgate::from_bearer, tollgate::estimate<0.5_cr>, tollgate::fixed_cost<0.5_cr>>{
                                 ledger, [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); },
                                 {tollgate::logger::silent(), {}}});
    http.start();
  }
  httplib::Headers auth(const std::string& key = "sk-alice") const { return {{"Authorization", "Bearer " + key}}; }
};
}  // namespace

TEST_CASE("httplib: a metered route charges and serves over real HTTP") {
  fixture f;
  auto client = f.http.client();
  auto res = client.Get("/fixed?name=bob", f.auth());
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "hello bob");
  CHECK(f.ledger.balance("alice") == 9.5_cr);
}

TEST_CASE("httplib: refusals reach the client with status and JSON detail") {
  fixture f;
  auto client = f.http.client();
  auto missing = client.Get("/fixed");
  REQUIRE(missing);
  CHECK(missing->status == 401);
  CHECK(nlohmann::json::parse(missing->body)["detail"] == "Missing user id: expected an 'Authorization: Bearer <credential>' header");
  auto unknown = client.Get("/fixed", f.auth("sk-mallory"));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(unknown->get_header_value("Content-Type") == "application/json");
  CHECK(f.ledger.balance("alice") == 10_cr);
}

TEST_CASE("httplib: a handler exception becomes a 500 and a full refund") {
  fixture f;
  auto client = f.http.client();
  auto res = client.Get("/throws", f.auth());
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(f.ledger.balance("alice") == 10_cr);
  CHECK(f.ledger.summary().locks.empty());
}

TEST_CASE("httplib: by_response_size counts the bytes of the body sent") {
  fixture f;
  auto client = f.http.client();
  auto res = client.Post("/sized", f.auth(), "1536", "text/plain");
  REQUIRE(res);
  CHECK(res->body.size() == 1536);
  CHECK(f.ledger.balance("alice") == 8.5_cr);  // 1.5 KB × 1 credit
}

TEST_CASE("httplib: HEAD on a route priced by size is not charged for a body it never sends") {
  fixture f;
  auto client = f.http.client();
  auto head = client.Head("/sized-get", f.auth());
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(f.ledger.balance("alice") == 9.75_cr);  // the base only
  auto get = client.Get("/sized-get", f.auth());
  REQUIRE(get);
  CHECK(f.ledger.balance("alice") == 7.5_cr);  // 0.25 + 2 KB
}

TEST_CASE("httplib: concurrent clients spend one balance exactly, never below zero") {
  fixture f;
  constexpr int clients = 4, per_client = 10;  // 40 × 0.5 wanted, 10 credits available: 20 fit
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> pool;
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&] {
      auto client = f.http.client();
      for (int i = 0; i < per_client; ++i) {
        auto res = client.Get("/half", f.auth());
        if (res && res->status == 200) ++ok;
        else if (res && res->status == 402) ++refused;
        else ++other;
      }
    });
  }
  for (auto& t : pool) t.join();
  CHECK(other == 0);
  CHECK(ok == 20);
  CHECK(refused == 20);
  CHECK(f.ledger.balance("alice") == credits{});
}

TEST_CASE("httplib: response_traits replace headers rather than append") {
  httplib::Response res;
  tollgate::response_ref ref(res);
  CHECK(ref.status() == 200);  // httplib's unset -1 reads as 200
  ref.set_header("Retry-After", "1");
  ref.set_header("Retry-After", "2");
  CHECK(res.get_header_value_count("Retry-After") == 1);
  CHECK(res.get_header_value("Retry-After") == "2");
}
