// Integration with the real reference credit server: an outage mid-request, and the quickstart on it.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/tollgate.hpp>

#include "support/child_process.hpp"
#include "support/http_server.hpp"

using namespace tollgate::literals;
using tollgate::credits;

namespace {

constexpr const char* token = "outage-test-token";

struct temp_files {
  std::string base = fmt::format("/tmp/tollgate-outage-{}", ::getpid());
  std::string state = base + ".state.json";
  std::string journal = base + ".journal";
  ~temp_files() {
    for (const auto& p : {state, journal, state + ".tmp", journal + ".tmp"}) std::remove(p.c_str());
    // The credit server's journal segments (and any it set aside) live next to its state file.
    for (int n = 0; n < 64; ++n)
      for (const auto& p : {fmt::format("{}.journal.{}", state, n), fmt::format("{}.journal.{}.orphaned", state, n)})
        std::remove(p.c_str());
  }
};

void start_server(std::optional<tollgate::testing::child_process>& server, const temp_files& files, int port) {
  server.reset();
  server.emplace(std::vector<std::string>{TOLLGATE_CREDIT_SERVER_BINARY, "--port", std::to_string(port), "--token", token, "--seed",
                                          TOLLGATE_SOURCE_DIR "/examples/credit_server/seed.json", "--state", files.state});
}

tollgate::credit_service_ledger_options service_options(int port) {
  tollgate::credit_service_ledger_options o;
  o.base_url = fmt::format("http://127.0.0.1:{}", port);
  o.api_token = tollgate::redacted(token);
  o.timeout = std::chrono::seconds(5);  // the outage here is a stopped server (refused at once): a slow CI machine must not look like one
  o.breaker_failures = 1000;  // this test is about the outbox, not the breaker
  o.log = tollgate::logger::silent();
  return o;
}

tollgate::durable_ledger_options outbox_options(const temp_files& files) {
  tollgate::durable_ledger_options o;
  o.journal_path = files.journal;
  o.first_retry = std::chrono::milliseconds(50);
  o.max_retry = std::chrono::milliseconds(200);
  o.shutdown_grace = std::chrono::milliseconds(300);
  o.log = tollgate::logger::silent();
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("credit outage: settle while the credit server is down, restart it, balances end exact") {
  temp_files files;
  std::optional<tollgate::testing::child_process> server;
  start_server(server, files, 0);
  const int port = server->read_port();
  tollgate::credit_service_ledger service(service_options(port));
  REQUIRE(service.balance("test-user-1").value() == 100_cr);

  {
    tollgate::durable_ledger ledger(service, outbox_options(files));
    tollgate::testing::http_server api;
    // The API: lock 5, charge 1.25. The "outage" handler stops the credit server while it runs.
    using route = tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<5_cr>, tollgate::fixed_cost<1.25_cr>>;
    api.server.Get("/normal", route{ledger, [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); },
                                    {tollgate::logger::silent(), {}}});
    api.server.Get("/outage", route{ledger, [&](const httplib::Request&, httplib::Response& res) {
                                      server->stop(SIGTERM);  // the credit service goes away mid-request
                                      res.set_content("served anyway", "text/plain");
                                    }, {tollgate::logger::silent(), {}}});
    api.start();
    auto client = api.client();

    auto normal = client.Get("/normal", {{"X-User-ID", "test-user-1"}});
    REQUIRE(normal);
    CHECK(normal->status == 200);
    CHECK(service.balance("test-user-1").value() == 98.75_cr);

    auto outage = client.Get("/outage", {{"X-User-ID", "test-user-1"}});
    REQUIRE(outage);
    CHECK(outage->status == 200);  // the client is served; the charge is owed, not lost
    CHECK(outage->body == "served anyway");
    CHECK(ledger.pending() == 1);
    CHECK(read_file(files.journal).rfind("owe ", 0) == 0);

    auto refused = client.Get("/normal", {{"X-User-ID", "test-user-1"}});  // no lock possible while down
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->has_header("Retry-After"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // retries fail meanwhile
    CHECK(ledger.pending() == 1);
  }  // the API process stops too, with the settlement still owed: it stays in the journal
  CHECK(read_file(files.journal).rfind("owe ", 0) == 0);

  start_server(server, files, port);  // the credit server comes back, same port, same state
  REQUIRE(server->read_port() == port);
  {
    tollgate::durable_ledger restarted(service, outbox_options(files));  // the API comes back
    CHECK(restarted.flush(std::chrono::seconds(10)));
  }
  // 100 − 1.25 (before the outage) − 1.25 (during it): exactly as with no outage.
  CHECK(service.balance("test-user-1").value() == 97.5_cr);
  const auto summary = service.summary().value();
  CHECK(summary.lock_ids.empty());  // nothing left held
  REQUIRE(summary.users.size() == 3);
  CHECK(summary.users[0].user_id == "test-user-1");
  CHECK(summary.users[0].balance == 97.5_cr);
  CHECK(service.health());
  CHECK(read_file(files.journal).empty());

  // Replaying a settlement that already landed must not charge twice.
  std::string landed_lock;
  {
    auto grant = service.lock("test-user-2", 3_cr, "replay-key");
    REQUIRE(grant);
    landed_lock = grant->lock_id;
    REQUIRE(service.settle(landed_lock, 2_cr));
  }
  {
    std::ofstream journal(files.journal);
    journal << "owe " << landed_lock << " 2000000\n";
  }
  {
    tollgate::durable_ledger replaying(service, outbox_options(files));
    CHECK(replaying.flush(std::chrono::seconds(10)));
  }
  CHECK(service.balance("test-user-2").value() == 98_cr);
}

TEST_CASE("credit service: the quickstart switches to it when CREDIT_SERVICE_URL is set") {
  temp_files files;
  std::optional<tollgate::testing::child_process> server;
  start_server(server, files, 0);
  const int port = server->read_port();
  const std::string url = fmt::format("CREDIT_SERVICE_URL=http://127.0.0.1:{}", port) + "/";

  tollgate::testing::child_process quickstart({TOLLGATE_QUICKSTART_BINARY, "--port", "0", "--outbox", files.journal},
                                              {url, std::string("CREDIT_API_TOKEN=") + token});
  httplib::Client client("127.0.0.1", quickstart.read_port());
  auto res = client.Get("/api/simple", {{"X-User-ID", "test-user-1"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  auto unknown = client.Get("/api/simple", {{"X-User-ID", "nobody"}});
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  auto streamed = client.Get("/api/stream?tokens=20", {{"X-User-ID", "test-user-1"}});
  REQUIRE(streamed);
  CHECK(streamed->status == 200);

  tollgate::credit_service_ledger service(service_options(port));
  credits balance = service.balance("test-user-1").value();
  for (int i = 0; i < 200 && balance != 99_cr - credits::from_micros(11); ++i) {  // the stream settles after its last chunk
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    balance = service.balance("test-user-1").value();
  }
  CHECK(balance == 99_cr - credits::from_micros(11));
  auto seen = client.Get("/api/test/balance?user_id=test-user-1");
  REQUIRE(seen);
  CHECK(seen->body.find("98.999989") != std::string::npos);

  // A wrong token is a configuration error the client sees as 500, with a detail that says so.
  tollgate::testing::child_process misconfigured({TOLLGATE_QUICKSTART_BINARY, "--port", "0"}, {url, "CREDIT_API_TOKEN=wrong"});
  httplib::Client other("127.0.0.1", misconfigured.read_port());
  auto rejected = other.Get("/api/simple", {{"X-User-ID", "test-user-1"}});
  REQUIRE(rejected);
  CHECK(rejected->status == 500);
  CHECK(rejected->body.find("rejected this server's credentials") != std::string::npos);
}

TEST_CASE("credit service: many threads lock and settle through one transport; balances end exact") {
  temp_files files;
  std::optional<tollgate::testing::child_process> server;
  start_server(server, files, 0);
  tollgate::credit_service_ledger service(service_options(server->read_port()));
  constexpr int threads = 6, rounds = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        auto grant = service.lock("test-user-3", 0.5_cr, fmt::format("t{}", t) + fmt::format("-{}", i));
        if (!grant || !service.settle(grant->lock_id, 0.125_cr)) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(failures == 0);
  CHECK(service.balance("test-user-3").value() == 100_cr - 0.125_cr * (threads * rounds));
  CHECK(service.summary().value().lock_ids.empty());
}

TEST_CASE("credit service: the quickstart refuses to start without a token") {
  tollgate::testing::child_process quickstart({TOLLGATE_QUICKSTART_BINARY, "--port", "0"}, {"CREDIT_SERVICE_URL=http://127.0.0.1:1"});
  const int status = quickstart.stop(0);  // signal 0: just wait for it to exit by itself
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
}

TEST_CASE("credit service: after a restart the ledger is serving again within its breaker's longest opening") {
  temp_files files;
  std::optional<tollgate::testing::child_process> server;
  start_server(server, files, 0);
  const int port = server->read_port();
  auto o = service_options(port);
  o.breaker_failures = 5;  // the defaults: circuit open after 5 failures, for at most 1 s
  o.breaker_open_for = tollgate::credit_service_ledger_options{}.breaker_open_for;
  tollgate::credit_service_ledger service(o);
  // Several pooled keep-alive connections, all of which the restart will kill. (Their outcome is
  // not the point: a slow sanitizer build may refuse some, and that is fine here.)
  std::vector<std::thread> warm;
  for (int t = 0; t < 4; ++t)
    warm.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i)
        if (auto g = service.lock("test-user-1", 0.1_cr, fmt::format("w{}-{}", t, i))) (void)service.release(g->lock_id);
    });
  for (auto& t : warm) t.join();
  REQUIRE(service.lock("test-user-1", 0.1_cr, "before-the-kill"));

  server->stop(SIGKILL);
  for (int i = 0; i < 20; ++i) CHECK_FALSE(service.lock("test-user-1", 0.1_cr, fmt::format("down-{}", i)));
  CHECK(service.circuit_open());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a long outage: the breaker has re-opened a few times
  for (int i = 0; i < 5; ++i) CHECK_FALSE(service.lock("test-user-1", 0.1_cr, fmt::format("still-down-{}", i)));

  start_server(server, files, port);
  REQUIRE(server->read_port() == port);
  const auto back = std::chrono::steady_clock::now();
  bool served = false;
  while (!served && std::chrono::steady_clock::now() - back < std::chrono::seconds(10)) {
    served = static_cast<bool>(service.lock("test-user-1", 0.1_cr, "after-restart"));
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - back);
  MESSAGE("first successful lock ", took.count(), " ms after the credit server was back");
  REQUIRE(served);
  // The breaker's longest opening (1 s) plus one round trip, with room for a sanitizer build; the
  // old 5 s opening and dead pooled connections re-tripping it made this 0.3-19 s (3 s here).
  CHECK(took < std::chrono::milliseconds(2'500));
}
