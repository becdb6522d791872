// The other single headers, seen alone with their siblings: plan tables, JWT and the billing endpoint
// answer a real signed request on a loopback port; the Beast part meters a route on its own server;
// the Redis part and the forward header compile and link.
#include <tollgate/fwd.hpp>
#include <tollgate/beast.hpp>
#include <tollgate/billing.hpp>
#include <tollgate/redis.hpp>

#include <cstdio>
#include <ctime>
#include <chrono>
#include <thread>

#ifndef TOLLGATE_SINGLE_HEADER
#error "the split headers were found, not the single headers"
#endif

int main() {
  const std::string secret(32, 's');
  httplib::Server server;
  tollgate::billing::mount(server, std::make_shared<tollgate::billing::limits_endpoint<>>(
                                       tollgate::billing::endpoint_options::with_secret(tollgate::redacted{secret})));
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const long long now = static_cast<long long>(std::time(nullptr));
  const std::string token =
      tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, secret);
  httplib::Client client("127.0.0.1", port);
  const auto res = client.Get("/billing/limits", {{"Authorization", "Bearer " + token}, {"tenant-id", "org-1"}, {"x-plan-type", "growth"}});
  server.stop();
  serving.join();

  // The Beast part: a metered route on its server, one loop thread.
  using namespace tollgate::literals;
  tollgate::memory_ledger ledger;
  ledger.add_user("alice", 10_cr);
  ledger.add_credential("alice", "alice");
  tollgate::beast::router routes;
  routes.get("/paid", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<1_cr>>{
                          ledger, [](const tollgate::beast::request&, tollgate::beast::response& r) { r.body() = "paid"; }});
  boost::asio::io_context io(1);
  tollgate::beast::server beast_server(io, std::move(routes));
  httplib::Client beast_client("127.0.0.1", beast_server.listen("127.0.0.1", 0));
  std::thread loop([&] { io.run(); });
  const auto paid = beast_client.Get("/paid", {{"X-User-ID", "alice"}});
  io.stop();
  loop.join();

  const tollgate::redis_ledger_options redis;  // the Redis part links (hiredis); no server needed for that
  const bool ok = res && res->status == 200 && res->body.find("\"plan_type\":\"growth\"") != std::string::npos &&
                  paid && paid->body == "paid" && ledger.balance("alice") == 9_cr && !redis.url.empty();
  std::printf("billing %d %s; beast %d\n", res ? res->status : -1, res ? res->body.c_str() : "", paid ? paid->status : -1);
  return ok ? 0 : 1;
}
