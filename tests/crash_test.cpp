// Crash test: the credit server and the API (the quickstart, with its outbox) are killed with
// SIGKILL at random moments under load and restarted. Afterwards every micro-credit is accounted
// for: available + held + charged == the initial total, no lock settled twice, and every request a
// client saw succeed was charged. Seeded (printed); TOLLGATE_CRASH_SEED and TOLLGATE_CRASH_ROUNDS
// vary it.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <tollgate/detail/settlement_journal.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/service/state_store.hpp>

#include "support/child_process.hpp"

using namespace tollgate::literals;
using tollgate::credits;
using tollgate::testing::child_process;

namespace {

constexpr const char* token = "crash-test-token";
constexpr int users = 3;
constexpr std::int64_t initial_balance = 1'000'000;  // credits per user: no request is refused for want of them

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::stoull(text) : fallback;
}

struct crash_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() / fmt::format("tollgate-crash-{}", ::getpid());
  crash_dir() { std::filesystem::create_directories(path); }
  ~crash_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  [[nodiscard]] std::string file(const char* name) const { return (path / name).string(); }
};

std::string user_name(int i) { return fmt::format("crash-user-{}", i + 1); }

void write_seed(const std::string& path) {
  std::ofstream out(path);
  out << R"({"users": [)";
  for (int i = 0; i < users; ++i)
    out << (i ? "," : "")
        << fmt::format(R"({{"user_id": "{0}", "balance": {1}, "credentials": [{{"key": "{0}", "is_public": false}}]}})",
                       user_name(i), initial_balance);
  out << "]}";
}

// The two processes under test, each restartable on the port it had.
struct system_under_test {
  explicit system_under_test(const crash_dir& d) : dir(d) {}
  const crash_dir& dir;
  std::optional<child_process> credit_server, api;
  int credit_port = 0;
  std::atomic<int> api_port{0};

  void start_credit_server() {
    credit_server.reset();
    credit_server.emplace(std::vector<std::string>{TOLLGATE_CREDIT_SERVER_BINARY, "--port", std::to_string(credit_port), "--token", token,
                                                   "--seed", dir.file("seed.json"), "--state", dir.file("ledger.json"),
                                                   "--log-level", "error"});
    credit_port = credit_server->read_port();
  }
  void start_api() {
    api.reset();
    api.emplace(std::vector<std::string>{TOLLGATE_QUICKSTART_BINARY, "--port", std::to_string(api_port.load()), "--outbox", dir.file("outbox")},
                std::vector<std::string>{fmt::format("CREDIT_SERVICE_URL=http://127.0.0.1:{}", credit_port),
                                         fmt::format("CREDIT_API_TOKEN={}", token)});
    api_port = api->read_port();
  }
};

// What the clients saw.
struct client_tally {
  std::atomic<std::uint64_t> sent{0}, succeeded{0}, refused{0}, failed{0};
};

void client_loop(system_under_test& sut, int user, const std::atomic<bool>& stop, client_tally& tally) {
  std::optional<httplib::Client> client;
  int connected_to = 0;
  std::uint64_t n = 0;
  while (!stop) {
    if (connected_to != sut.api_port) {
      connected_to = sut.api_port;
      client.emplace("127.0.0.1", connected_to);
      client->set_connection_timeout(std::chrono::seconds(2));
      client->set_read_timeout(std::chrono::seconds(5));
      client->set_keep_alive(true);
    }
    const httplib::Headers headers{{"X-User-ID", user_name(user)}};
    ++tally.sent;
    // Fixed-price and size-priced requests: settlements of different amounts, some above nothing.
    auto res = (++n % 3 == 0) ? client->Post("/api/data", headers, fmt::format(R"({{"size": {}}})", n % 4096), "application/json")
                              : client->Get("/api/simple", headers);
    if (!res) {
      ++tally.failed;  // the API was killed mid-request, or is restarting
      connected_to = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else if (res->status == 200) {
      ++tally.succeeded;
    } else {
      ++tally.refused;  // 503 while the credit server is down: the handler never ran
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace

TEST_CASE("crash: SIGKILL of the credit server and the API at random moments under load loses and doubles nothing") {
  const std::uint64_t seed = env_or("TOLLGATE_CRASH_SEED", 20261128);
  const std::uint64_t rounds = env_or("TOLLGATE_CRASH_ROUNDS", 12);
  MESSAGE("crash test seed ", seed, " (TOLLGATE_CRASH_SEED), ", rounds, " kills (TOLLGATE_CRASH_ROUNDS)");
  std::mt19937_64 random(seed);

  crash_dir dir;
  write_seed(dir.file("seed.json"));
  system_under_test sut{dir};
  sut.start_credit_server();
  sut.start_api();

  std::atomic<bool> stop{false};
  client_tally tally;
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(client_loop, std::ref(sut), i % users, std::cref(stop), std::ref(tally));

  int credit_kills = 0, api_kills = 0;
  for (std::uint64_t round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + random() % 500));
    const auto victim = random() % 5;  // 0–1: the credit server, 2–3: the API, 4: both at once
    if (victim <= 1 || victim == 4) {
      sut.credit_server->stop(SIGKILL);
      ++credit_kills;
    }
    if (victim >= 2) {
      sut.api->stop(SIGKILL);
      ++api_kills;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));  // down for a moment
    if (victim <= 1 || victim == 4) sut.start_credit_server();
    if (victim >= 2) sut.start_api();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a last stretch of normal service
  stop = true;
  for (auto& t : clients) t.join();
  MESSAGE("kills: ", credit_kills, " credit server, ", api_kills, " API; requests: ", tally.sent.load(), " sent, ",
          tally.succeeded.load(), " served, ", tally.refused.load(), " refused, ", tally.failed.load(), " cut off");
  CHECK(credit_kills > 0);
  CHECK(api_kills > 0);
  CHECK(tally.succeeded > 100);  // the load was real

  // A clean stop of the API settles what its outbox still owes (the credit server is up).
  CHECK(sut.api->stop(SIGTERM) == 0);
  sut.api.reset();
  {
    tollgate::detail::settlement_journal outbox(dir.file("outbox"));
    CHECK(outbox.recover().empty());
  }
  sut.credit_server->stop(SIGTERM);
  sut.credit_server.reset();

  // The credit server's durable state, read back by its own recovery code.
  tollgate::memory_ledger ledger;
  tollgate::detail::credential_marks marks;
  tollgate::memory_ledger_state state;
  {
    tollgate::detail::state_store store({.snapshot_path = dir.file("ledger.json")}, tollgate::logger::silent());
    store.open(ledger, marks, [&] { return marks; });
    state = ledger.export_state();
  }
  credits available, held, charged;
  for (const auto& u : state.users) available = available + u.available;
  for (const auto& l : state.locks) held = held + l.amount;  // locks of killed requests: held until their TTL
  std::set<std::string> lock_ids, keys;
  std::uint64_t charges = 0;
  for (const auto& s : state.settled) {
    CHECK_MESSAGE(lock_ids.insert(s.lock_id).second, "lock ", s.lock_id, " closed twice");
    CHECK_MESSAGE(keys.insert(s.idempotency_key).second, "idempotency key used by two locks");
    CHECK(s.charged <= s.locked);
    charged = charged + s.charged;
    if (s.charged > credits{}) ++charges;
  }
  for (const auto& l : state.locks) {
    CHECK_MESSAGE(lock_ids.insert(l.lock_id).second, "lock ", l.lock_id, " both open and closed");
    CHECK(keys.insert(l.idempotency_key).second);
  }
  MESSAGE(fmt::format("ledger: available {}, held {} in {} open locks, charged {} by {} settlements", available, held,
                      state.locks.size(), charged, charges));
  CHECK(available + held + charged == credits::from_micros(users * initial_balance * 1'000'000));  // conservation, to the micro-credit
  CHECK(charges >= tally.succeeded);  // every request a client saw served was charged (nothing lost)
  CHECK(charges <= tally.sent);       // and none more than once
}
