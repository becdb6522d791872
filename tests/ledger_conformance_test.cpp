// The public conformance suite (tollgate/testing/ledger_conformance.hpp) run by the same code on
// every ledger tollgate ships: memory_ledger, durable_ledger over it (redis_ledger's run is in
// redis_ledger_test.cpp), credit_service_ledger over the in-process credit service on loopback, over the
// real credit server process, and over two credit server processes sharing one Redis. Plus a deliberately broken ledger, to show the suite catches what it claims to.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <httplib.h>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>
#include <tollgate/testing/awaiting_ledger.hpp>
#include <tollgate/service/credit_service.hpp>
#include <tollgate/testing/ledger_conformance.hpp>

#if TOLLGATE_CONFORMANCE_WITH_REDIS
#include "support/redis_server.hpp"
#endif
#include "support/child_process.hpp"
#include "support/credit_transports.hpp"
#include "support/http_server.hpp"

using namespace tollgate::literals;
using tollgate::credits;

namespace {

// A clock the fixtures move; read by server threads too, hence atomic.
class manual_clock {
 public:
  [[nodiscard]] std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point{std::chrono::steady_clock::duration{ticks_.load()}};
  }
  void advance(std::chrono::steady_clock::duration by) { ticks_ += by.count(); }

 private:
  std::atomic<std::chrono::steady_clock::rep> ticks_{std::chrono::steady_clock::now().time_since_epoch().count()};
};

tollgate::memory_ledger_options options_on(const std::shared_ptr<manual_clock>& clock) {
  tollgate::memory_ledger_options o;
  o.now = [clock] { return clock->now(); };
  return o;
}

// Users are "conformance-user-N" with that string as their credential.
struct memory_fixture {
  std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
  tollgate::memory_ledger ledger_{options_on(clock)};
  int users = 0;

  tollgate::memory_ledger& ledger() { return ledger_; }
  std::string new_user(credits balance) {
    const std::string id = fmt::format("conformance-user-{}", ++users);
    REQUIRE(ledger_.add_user(id, balance));
    REQUIRE(ledger_.add_credential(id, id));
    return id;
  }
  tollgate::result<credits> available(const std::string& credential) {
    if (auto b = ledger_.balance(credential)) return *b;
    return tollgate::ledger_error{tollgate::ledger_errc::unknown_credential, "no such user"};
  }
  void expire_holds() { clock->advance(tollgate::memory_ledger_options{}.lock_ttl + std::chrono::seconds(1)); }
  [[nodiscard]] bool allows_overage() const { return false; }
};

tollgate::durable_ledger_options quiet_outbox() {
  tollgate::durable_ledger_options o;
  o.log = tollgate::logger::silent();
  return o;
}

struct durable_fixture : memory_fixture {
  tollgate::durable_ledger<tollgate::memory_ledger> durable{ledger_, quiet_outbox()};
  tollgate::durable_ledger<tollgate::memory_ledger>& ledger() { return durable; }
};

// The async forms, seen through awaiting_ledger: memory_ledger's inline completion, and any blocking
// ledger offloaded to worker threads.
struct async_memory_fixture : memory_fixture {
  tollgate::testing::awaiting_ledger<tollgate::memory_ledger> awaiting{ledger_};
  tollgate::testing::awaiting_ledger<tollgate::memory_ledger>& ledger() { return awaiting; }
};
struct offloading_fixture : memory_fixture {
  tollgate::offloading_ledger<tollgate::memory_ledger> offloaded{ledger_, {.threads = 3, .queue_capacity = 64}};
  tollgate::testing::awaiting_ledger<tollgate::offloading_ledger<tollgate::memory_ledger>> awaiting{offloaded};
  auto& ledger() { return awaiting; }
};

// durable_ledger's async forms, over memory_ledger's (inline) and over the credit service's (below).
struct async_durable_fixture : memory_fixture {
  tollgate::durable_ledger<tollgate::memory_ledger> durable{ledger_, quiet_outbox()};
  tollgate::testing::awaiting_ledger<tollgate::durable_ledger<tollgate::memory_ledger>> awaiting{durable};
  auto& ledger() { return awaiting; }
};

tollgate::credit_service_ledger_options client_options(int port, const char* token) {
  tollgate::credit_service_ledger_options o;
  o.base_url = fmt::format("http://127.0.0.1:{}", port);
  o.api_token = tollgate::redacted(token);
  o.timeout = std::chrono::seconds(30);
  o.log = tollgate::logger::silent();
  return o;
}

// The credit service in this process, on a real loopback HTTP server, reached by the HTTP client
// of a transport flavour (cpp-httplib, or Boost.Beast on a loop thread).
template <class Transport>
struct service_fixture_on : memory_fixture {
  using client_type = typename Transport::ledger_type;
  tollgate::credit_service service{ledger_, tollgate::redacted("conformance-token"), tollgate::logger::silent()};
  tollgate::testing::http_server server;
  Transport transport;
  std::unique_ptr<client_type> client;  // last: gone before the loop and the server
  service_fixture_on() {
    tollgate::tune(server.server);
    service.mount(server.server);
    client = transport.make(client_options(server.start(), "conformance-token"));
  }
  client_type& ledger() { return *client; }
  tollgate::result<credits> available(const std::string& user) { return client->balance(user); }
};
using service_fixture = service_fixture_on<tollgate::testing::httplib_transport_flavour>;
using beast_service_fixture = service_fixture_on<tollgate::testing::beast_transport_flavour>;

// The credit-service client's async forms (a worker pool, or Beast's loop), through awaiting_ledger.
// unique_ptr rather than optional: g++ 12 -O3 warns (maybe-uninitialized) on the optional's
// shared_ptr members. A derived fixture's members go before the base's client: no destructor needed.
template <class Transport>
struct async_service_fixture_on : service_fixture_on<Transport> {
  using client_type = typename Transport::ledger_type;
  std::unique_ptr<tollgate::testing::awaiting_ledger<client_type>> awaiting =
      std::make_unique<tollgate::testing::awaiting_ledger<client_type>>(*this->client);
  tollgate::testing::awaiting_ledger<client_type>& ledger() { return *awaiting; }
};

template <class Transport>
struct async_durable_service_fixture_on : service_fixture_on<Transport> {
  using client_type = typename Transport::ledger_type;
  std::unique_ptr<tollgate::durable_ledger<client_type>> durable =
      std::make_unique<tollgate::durable_ledger<client_type>>(*this->client, quiet_outbox());
  std::unique_ptr<tollgate::testing::awaiting_ledger<tollgate::durable_ledger<client_type>>> awaiting =
      std::make_unique<tollgate::testing::awaiting_ledger<tollgate::durable_ledger<client_type>>>(*durable);
  auto& ledger() { return *awaiting; }
};

std::vector<std::string> credit_server_arguments(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", "conformance-token", "--lock-ttl", "1.5", "--log-level", "error"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// The credit server program: users made through its own API, expiry by waiting out a short TTL.
struct server_process_fixture {
  static constexpr auto ttl = std::chrono::milliseconds(1500);
  explicit server_process_fixture(const std::vector<std::string>& extra = {}) : process(credit_server_arguments(extra)) {}
  tollgate::testing::child_process process;
  int port = process.read_port();
  tollgate::credit_service_ledger client{client_options(port, "conformance-token")};
  httplib::Client admin{"127.0.0.1", port};
  int users = 0;

  tollgate::credit_service_ledger& ledger() { return client; }
  std::string new_user(credits balance) {
    const std::string id = fmt::format("conformance-user-{}", ++users);
    const httplib::Headers auth{{"Authorization", "Bearer conformance-token"}};
    auto created = admin.Post("/v1/users", auth, fmt::format(R"({{"user_id": "{}", "balance": "{}"}})", id, balance), "application/json");
    REQUIRE(created);
    REQUIRE(created->status == 200);
    auto credential = admin.Post("/v1/credential", auth, fmt::format(R"({{"user_id": "{0}", "credential_key": "{0}"}})", id), "application/json");
    REQUIRE(credential);
    REQUIRE(credential->status == 200);
    return id;
  }
  tollgate::result<credits> available(const std::string& user) { return client.balance(user); }
  void expire_holds() { std::this_thread::sleep_for(ttl + std::chrono::milliseconds(300)); }
  [[nodiscard]] bool allows_overage() const { return false; }
};

#if TOLLGATE_CONFORMANCE_WITH_REDIS
// Two credit server programs on one Redis: locks and settles go through one, users are made and
// balances read through the other, so every check also checks that they share one state.
struct shared_redis_fixture {
  tollgate::testing::redis_server redis;
  server_process_fixture serving{{"--redis", redis.url()}};
  server_process_fixture administering{{"--redis", redis.url()}};

  tollgate::credit_service_ledger& ledger() { return serving.client; }
  std::string new_user(credits balance) { return administering.new_user(balance); }
  tollgate::result<credits> available(const std::string& user) { return administering.client.balance(user); }
  void expire_holds() { serving.expire_holds(); }
  [[nodiscard]] bool allows_overage() const { return false; }
};
#endif

template <class Fixture>
void check_conforms(Fixture& fixture) {
  const auto report = tollgate::testing::check_ledger_conformance(fixture);
  INFO(report.text());
  CHECK(report.ok());
  CHECK(report.checks > 30);
}

// Broken on purpose: settle forgets what it charged, so a repeated settle charges again.
struct forgetful_ledger {
  using ledger_concept = tollgate::ledger_t;
  tollgate::memory_ledger& inner;
  tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) { return inner.lock(c, a, k); }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) {
    auto r = inner.settle(id, cost);
    if (r && r->replayed) return tollgate::settlement{cost, false};  // claims a second charge
    return r;
  }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return settle(id, credits{}); }
  bool health() { return true; }
};

struct forgetful_fixture : memory_fixture {
  forgetful_ledger broken{ledger_};
  forgetful_ledger& ledger() { return broken; }
};

}  // namespace

TEST_CASE("conformance: memory_ledger") {
  memory_fixture f;
  check_conforms(f);
}

TEST_CASE("conformance: durable_ledger over memory_ledger") {
  durable_fixture f;
  check_conforms(f);
}

TEST_CASE("conformance: memory_ledger's async forms (inline completion)") {
  async_memory_fixture f;
  check_conforms(f);
  CHECK(f.awaiting.extra_completions() == 0);
  CHECK(f.awaiting.missing_completions() == 0);
}

TEST_CASE("conformance: offloading_ledger over memory_ledger, async forms on worker threads") {
  offloading_fixture f;
  check_conforms(f);
  CHECK(f.awaiting.extra_completions() == 0);
  CHECK(f.awaiting.missing_completions() == 0);
}

TEST_CASE_TEMPLATE("conformance: credit_service_ledger's async forms, over the in-process credit service on loopback", Transport,
                   TOLLGATE_CREDIT_TRANSPORTS) {
  async_service_fixture_on<Transport> f;
  check_conforms(f);
  CHECK(f.awaiting->extra_completions() == 0);
  CHECK(f.awaiting->missing_completions() == 0);
}

TEST_CASE("conformance: durable_ledger's async forms, over memory_ledger") {
  static_assert(tollgate::async_ledger<tollgate::durable_ledger<tollgate::memory_ledger>>);
  async_durable_fixture f;
  check_conforms(f);
  CHECK(f.awaiting.extra_completions() == 0);
  CHECK(f.awaiting.missing_completions() == 0);
}

TEST_CASE_TEMPLATE("conformance: durable_ledger's async forms, over the credit service on loopback", Transport, TOLLGATE_CREDIT_TRANSPORTS) {
  async_durable_service_fixture_on<Transport> f;
  check_conforms(f);
  CHECK(f.awaiting->extra_completions() == 0);
  CHECK(f.awaiting->missing_completions() == 0);
}

TEST_CASE("conformance: credit_service_ledger over the in-process credit service on loopback") {
  service_fixture f;
  check_conforms(f);
}

TEST_CASE("conformance: beast::credit_service_ledger (blocking forms) over the in-process credit service on loopback") {
  beast_service_fixture f;
  check_conforms(f);
}

TEST_CASE("conformance: credit_service_ledger over the credit server program") {
  server_process_fixture f;
  check_conforms(f);
}

#if TOLLGATE_CONFORMANCE_WITH_REDIS
TEST_CASE("conformance: credit_service_ledger over two credit server programs sharing one Redis") {
  shared_redis_fixture f;
  check_conforms(f);
}
#endif

TEST_CASE("conformance: a ledger that replays a settle as a new charge is caught, by name") {
  forgetful_fixture f;
  const auto report = tollgate::testing::check_ledger_conformance(f);
  CHECK_FALSE(report.ok());
  CHECK(report.text().find("a repeated settle with the same cost replays the first result") != std::string::npos);
}
