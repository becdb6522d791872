// The other single headers, seen alone with their siblings: plan tables, JWT and the billing endpoint
// answer a real signed request on a loopback port; the Redis part and the forward header compile and link.
#include <tollgate/fwd.hpp>
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

  const tollgate::redis_ledger_options redis;  // the Redis part links (hiredis); no server needed for that
  const bool ok = res && res->status == 200 && res->body.find("\"plan_type\":\"growth\"") != std::string::npos &&
                  !redis.url.empty();
  std::printf("billing %d %s\n", res ? res->status : -1, res ? res->body.c_str() : "");
  return ok ? 0 : 1;
}
