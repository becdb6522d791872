// A credit service or a Redis that stops answering (SIGSTOP) must not stall an event-loop server's
// other connections: the Beast quickstart on one loop thread keeps answering /health at once while
// its metered requests wait for their timeout. The blocking path on the same loop stalls them all.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <httplib.h>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/tollgate.hpp>

#include "support/child_process.hpp"
#if TOLLGATE_STALLED_WITH_REDIS
#include "support/redis_server.hpp"
#endif

using namespace tollgate::literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* token = "stall-test-token";

// The reference credit server on a scratch state file, SIGCONTed before it is stopped for good
// (a stopped process would never act on the SIGTERM that ends it).
struct credit_server {
  std::string state = fmt::format("/tmp/tollgate-stall-{}.state.json", ::getpid());
  tollgate::testing::child_process process{{TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", token, "--seed",
                                            TOLLGATE_SOURCE_DIR "/examples/credit_server/seed.json", "--state", state}};
  int port = process.read_port();
  bool stopped = false;

  void freeze() {
    REQUIRE(::kill(process.pid(), SIGSTOP) == 0);
    stopped = true;
  }
  void thaw() {
    if (stopped) ::kill(process.pid(), SIGCONT);
    stopped = false;
  }
  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}", port); }
  ~credit_server() {
    thaw();
    process.stop();
    std::remove(state.c_str());
    for (int n = 0; n < 64; ++n) std::remove(fmt::format("{}.journal.{}", state, n).c_str());
  }
};

struct answer {
  int status = -1;
  std::chrono::milliseconds took{};
};

answer timed_get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(30));
  const auto started = clock_type::now();
  auto res = client.Get(path.c_str(), headers);
  return {res ? res->status : -1, std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started)};
}

// Metered requests in flight while the service is frozen, and the slowest /health answer meanwhile.
struct stall_outcome {
  std::vector<answer> metered;
  std::chrono::milliseconds slowest_health{};
};

template <class Frozen>  // freeze() and thaw(): a credit_server, a frozen_redis
stall_outcome during_stall(Frozen& service, int port, int probes, const std::vector<std::string>& also_waiting = {}) {
  service.freeze();
  std::vector<std::future<answer>> in_flight;
  for (int i = 0; i < 3; ++i)
    in_flight.push_back(std::async(std::launch::async, [port] { return timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}); }));
  for (const auto& path : also_waiting) in_flight.push_back(std::async(std::launch::async, [port, path] { return timed_get(port, path); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // they are waiting on the frozen service now
  stall_outcome out;
  for (int i = 0; i < probes; ++i) {
    const answer health = timed_get(port, "/health");
    CHECK(health.status == 200);
    out.slowest_health = std::max(out.slowest_health, health.took);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& f : in_flight) out.metered.push_back(f.get());
  service.thaw();
  return out;
}

#if TOLLGATE_STALLED_WITH_REDIS
// A redis-server frozen and thawed the way credit_server is.
struct frozen_redis {
  tollgate::testing::redis_server server;
  void freeze() { server.pause(); }
  void thaw() { server.resume(); }
};
#endif

// Back: metered requests are served again (the breaker, if it opened, closes within its 1 s).
int status_once_recovered(int port) {
  int status = -1;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return status;
}

}  // namespace

TEST_CASE("stalled ledger: the Beast quickstart on one loop thread keeps serving while the credit service is frozen") {
  credit_server service;
  tollgate::testing::child_process quickstart(
      {TOLLGATE_QUICKSTART_BEAST_BINARY, "--port", "0", "--threads", "1"},
      {"CREDIT_SERVICE_URL=" + service.url(), std::string("CREDIT_API_TOKEN=") + token, "CREDIT_TIMEOUT=2"});
  const int port = quickstart.read_port();
  REQUIRE(timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status == 200);

  // The balance lookup goes to the frozen service too, without holding the loop either.
  const stall_outcome stall = during_stall(service, port, 20, {"/api/test/balance?user_id=test-user-1"});
  MESSAGE("slowest /health during the stall: " << stall.slowest_health.count() << " ms");
  REQUIRE(stall.metered.size() == 4);
  CHECK(stall.slowest_health < std::chrono::milliseconds(500));
  for (const answer& a : stall.metered) {
    CHECK(a.status == 503);                             // the ledger's timeout, answered as unavailable
    CHECK(a.took >= std::chrono::milliseconds(1500));  // they did wait for the service
  }

  CHECK(status_once_recovered(port) == 200);
}

TEST_CASE("stalled ledger: the blocking path on the same single loop thread stalls every connection") {
  credit_server service;
  tollgate::credit_service_ledger_options options;
  options.base_url = service.url();
  options.api_token = tollgate::redacted(token);
  options.timeout = std::chrono::seconds(2);
  options.log = tollgate::logger::silent();
  tollgate::credit_service_ledger ledger(options);

  // The mistake this adapter exists to avoid: the blocking metered called on the loop.
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<1_cr>> blocking{
      ledger, [](const tollgate::beast::request&, tollgate::beast::response& res) { res.body() = "paid"; }};
  tollgate::beast::router routes;
  routes.get("/api/simple", [blocking](const tollgate::beast::request& req, tollgate::beast::response& res) { blocking(req, res); });
  routes.get("/health", [](const tollgate::beast::request&, tollgate::beast::response& res) { res.body() = "ok"; });
  boost::asio::io_context io(1);
  tollgate::beast::server server(io, std::move(routes));
  const int port = server.listen("127.0.0.1", 0);
  std::thread loop([&] { io.run(); });

  REQUIRE(timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status == 200);
  const stall_outcome stall = during_stall(service, port, 1);
  MESSAGE("slowest /health during the stall: " << stall.slowest_health.count() << " ms");
  CHECK(stall.slowest_health >= std::chrono::milliseconds(1000));  // it waited behind a ledger call
  io.stop();
  loop.join();
}

TEST_CASE("stalled ledger: the Beast quickstart shuts down cleanly with a lock in flight to a frozen service") {
  credit_server service;
  tollgate::testing::child_process quickstart(
      {TOLLGATE_QUICKSTART_BEAST_BINARY, "--port", "0", "--threads", "1"},
      {"CREDIT_SERVICE_URL=" + service.url(), std::string("CREDIT_API_TOKEN=") + token, "CREDIT_TIMEOUT=2"});
  const int port = quickstart.read_port();
  REQUIRE(timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status == 200);
  service.freeze();
  auto in_flight = std::async(std::launch::async, [port] { return timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its lock is waiting on the frozen service
  const int status = quickstart.stop(SIGTERM);                  // the ledger answers after the loop stopped
  CHECK(WIFEXITED(status));                                     // not a crash (ASan would report here)
  CHECK(WEXITSTATUS(status) == 0);
  (void)in_flight.get();  // cut off, or answered before the exit: either way it ended
  service.thaw();
}

#if TOLLGATE_STALLED_WITH_REDIS
TEST_CASE("stalled ledger: the Beast quickstart --redis on one loop thread keeps serving while Redis is frozen") {
  frozen_redis redis;
  tollgate::testing::child_process quickstart(
      {TOLLGATE_QUICKSTART_BEAST_BINARY, "--port", "0", "--threads", "1", "--redis", redis.server.url()});
  const int port = quickstart.read_port();
  REQUIRE(timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status == 200);

  const stall_outcome stall = during_stall(redis, port, 20);
  MESSAGE("slowest /health during the stall: " << stall.slowest_health.count() << " ms");
  CHECK(stall.slowest_health < std::chrono::milliseconds(500));
  for (const answer& a : stall.metered) {
    CHECK(a.status == 503);                            // asio::redis_ledger's command timeout (1 s), answered as unavailable
    CHECK(a.took >= std::chrono::milliseconds(700));  // they did wait for Redis
  }
  CHECK(status_once_recovered(port) == 200);
}

TEST_CASE("stalled ledger: the Beast quickstart --redis shuts down cleanly with a lock in flight to a frozen Redis") {
  frozen_redis redis;
  tollgate::testing::child_process quickstart(
      {TOLLGATE_QUICKSTART_BEAST_BINARY, "--port", "0", "--threads", "1", "--redis", redis.server.url()});
  const int port = quickstart.read_port();
  REQUIRE(timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}).status == 200);
  redis.freeze();
  auto in_flight = std::async(std::launch::async, [port] { return timed_get(port, "/api/simple", {{"X-User-ID", "test-user-1"}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its lock is waiting on the frozen Redis
  const int status = quickstart.stop(SIGTERM);                  // the ledger closes its connection with the lock in flight
  CHECK(WIFEXITED(status));                                     // not a crash (ASan would report here)
  CHECK(WEXITSTATUS(status) == 0);
  (void)in_flight.get();
  redis.thaw();
}
#endif
