// limited<> and GET /billing/usage on tollgate's Beast server, over real loopback HTTP.
#include <utility>  // before asio's awaitable.hpp (Boost 1.74)

#include <boost/asio/io_context.hpp>
#include <tollgate/adapters/beast.hpp>
#include <tollgate/billing/beast.hpp>
#include <tollgate/billing/usage_endpoint.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/usage/limited.hpp>
#include <tollgate/usage/memory_usage_store.hpp>

#include <memory>
#include <optional>
#include <thread>

#include <doctest/doctest.h>
#include <httplib.h>

TEST_CASE("limited on Beast: the 2nd free deployment is refused 403, a delete frees it, /billing/usage counts") {
  using tenant = tollgate::from_header<"tenant-id">;
  tollgate::memory_usage_store store;
  tollgate::tenant_limits<> plans;
  int creates = 0;
  tollgate::beast::router routes;
  routes.post("/deployments", tollgate::limited<"deployments", tenant>{store, plans,
      [&creates](const tollgate::beast::request&, tollgate::beast::response& res) {
        ++creates;
        res.result(201);
      }});
  routes.add(boost::beast::http::verb::delete_, "/deployments/d1", tollgate::limited<"deployments", tenant, tollgate::releases>{store, plans,
      [](const tollgate::beast::request&, tollgate::beast::response& res) { res.result(204); }});
  tollgate::billing::mount_usage(routes, std::make_shared<const tollgate::billing::usage_endpoint<>>(
                                             store, tollgate::billing::endpoint_options::auth_disabled().with_logger(tollgate::logger::silent())));
  boost::asio::io_context io{1};
  std::optional<tollgate::beast::server> server;
  server.emplace(io, std::move(routes));
  const int port = server->listen("127.0.0.1", 0);
  std::thread loop([&io] { io.run(); });

  httplib::Client client("127.0.0.1", port);
  const httplib::Headers who{{"tenant-id", "org-1"}};
  CHECK(client.Post("/deployments", who, "", "application/json")->status == 201);
  const auto refused = client.Post("/deployments", who, "", "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(refused->body == R"({"detail":"Plan limit reached: plan 'free' allows 1 deployments (1 in use); delete one or upgrade the plan"})");
  CHECK(creates == 1);
  const auto usage = client.Get("/billing/usage", who);
  REQUIRE(usage);
  CHECK(usage->body ==
        R"({"tenant_id":"org-1","usage":{"deployments":{"used":1,"limit":1,"remaining":0},"self_hosted_workers":{"used":0,"limit":5,"remaining":5}},"plan_type":"free"})");
  CHECK(client.Delete("/deployments/d1", who)->status == 204);
  CHECK(*store.usage("org-1", "deployments") == 0);
  CHECK(client.Post("/deployments", who, "", "application/json")->status == 201);

  io.stop();
  loop.join();
}
