// redis_ledger against real redis-server processes on loopback: the public conformance suite, the
// key layout, outages (down, killed and restarted with AOF, paused with SIGSTOP), the sweep of a
// crashed API server's holds, and a 3-master Redis Cluster, resharded under the ledger's feet.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <tollgate/adapters/asio/redis_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/ledgers/redis_ledger.hpp>
#include <tollgate/redis/cluster_slot.hpp>
#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/lock_id.hpp>
#include <tollgate/testing/ledger_conformance.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/json/credits.hpp>

#include "support/child_process.hpp"
#include "support/redis_money.hpp"
#include "support/redis_server.hpp"

using namespace tollgate::literals;
using tollgate::credits;
using tollgate::ledger_errc;
using tollgate::testing::redis_server;
using tollgate::testing::money_of;

namespace {

int prefix_counter = 0;

tollgate::redis_ledger_options options_for(const std::string& url, std::chrono::milliseconds ttl = std::chrono::seconds(60)) {
  tollgate::redis_ledger_options o;
  o.url = url;
  o.key_prefix = fmt::format("t{}", ++prefix_counter);  // every ledger of the run on its own keys
  o.lock_ttl = ttl;
  o.sweep_every = std::chrono::milliseconds(0);
  o.command_timeout = std::chrono::milliseconds(2'000);
  o.log = tollgate::logger::silent();
  return o;
}

// Options that notice an outage fast: short command timeout, a breaker that reopens soon.
tollgate::redis_ledger_options outage_options_for(const std::string& url, std::chrono::milliseconds timeout) {
  auto o = options_for(url);
  o.command_timeout = timeout;
  o.breaker_open_for = std::chrono::milliseconds(100);
  return o;
}

// A user with `balance`, whose user id is also their credential.
void add_funded_user(tollgate::redis_ledger& ledger, const std::string& user, credits balance) {
  REQUIRE(ledger.add_user(user, balance).value());
  REQUIRE(ledger.add_credential(user, user).value());
}

// The conformance fixture: users made through the ledger's own administration; holds expire by
// waiting out a short TTL on Redis's clock.
struct redis_fixture {
  static constexpr auto ttl = std::chrono::milliseconds(1'500);
  tollgate::redis_ledger ledger_;
  int users = 0;
  explicit redis_fixture(const std::string& url) : ledger_(options_for(url, ttl)) {}

  tollgate::redis_ledger& ledger() { return ledger_; }
  std::string new_user(credits balance) {
    const std::string id = fmt::format("conformance-user-{}", ++users);
    add_funded_user(ledger_, id, balance);
    return id;
  }
  tollgate::result<credits> available(const std::string& credential) { return ledger_.balance(credential); }
  void expire_holds() { std::this_thread::sleep_for(ttl + std::chrono::milliseconds(100)); }
  [[nodiscard]] bool allows_overage() const { return false; }
};

}  // namespace

TEST_CASE("Redis URLs: login, database, IPv6, and clear errors") {
  using tollgate::redis::endpoint;
  const auto plain = endpoint::parse("redis://cache.internal:6380");
  CHECK(plain.host == "cache.internal");
  CHECK(plain.port == 6380);
  CHECK(plain.password.empty());
  const auto full = endpoint::parse("redis://api:p%40ss@10.0.0.5:7000/3");
  CHECK(full.user == "api");
  CHECK(full.password.reveal() == "p@ss");
  CHECK(full.database == 3);
  CHECK(endpoint::parse("redis://secret@localhost").password.reveal() == "secret");
  CHECK(endpoint::parse("redis://localhost").port == 6379);
  CHECK(endpoint::parse("redis://[::1]:6390").host == "::1");
  CHECK_THROWS_AS((void)endpoint::parse("http://localhost:6379"), tollgate::redis::url_error);
  CHECK_THROWS_AS((void)endpoint::parse("redis://localhost:99999"), tollgate::redis::url_error);
  CHECK_THROWS_AS((void)endpoint::parse("redis://localhost:6379/x"), tollgate::redis::url_error);
  CHECK_THROWS_AS((void)endpoint::parse("redis://:6379"), tollgate::redis::url_error);
  CHECK_THROWS_AS((void)endpoint::parse("redis://bad host:6379"), tollgate::redis::url_error);
  try {
    (void)endpoint::parse("redis://u:hunter2%zz@localhost");
    FAIL("a bad escape must throw");
  } catch (const tollgate::redis::url_error& e) {
    CHECK(std::string(e.what()).find("hunter2") == std::string::npos);  // errors never echo a password
  }
}

TEST_CASE("cluster slots are Redis's own (CRC16 of the hash tag)") {
  using tollgate::redis::slot_of;
  CHECK(slot_of("foo") == 12182);  // CLUSTER KEYSLOT foo
  CHECK(slot_of("{user1000}.following") == slot_of("{user1000}.followers"));
  CHECK(slot_of("tg:{alice}:account") == slot_of("alice"));
  CHECK(slot_of("foo{}{bar}") == slot_of("foo{}{bar}"));  // an empty tag hashes the whole key
}

TEST_CASE("redis_ledger conforms to the ledger concept on a real Redis") {
  redis_server redis;
  redis_fixture fixture(redis.url());
  const auto report = tollgate::testing::check_ledger_conformance(fixture);
  INFO(report.text());
  CHECK(report.ok());
  CHECK(report.checks > 30);
}

TEST_CASE("redis_ledger: what Redis holds, and what it never holds") {
  redis_server redis;
  auto options = options_for(redis.url());
  tollgate::redis_ledger ledger(options);
  const std::string p = options.key_prefix;
  REQUIRE(ledger.add_user("alice", 10_cr).value());
  CHECK_FALSE(ledger.add_user("alice", 99_cr).value());  // exists: left alone
  CHECK(ledger.balance("alice").value() == 10_cr);
  REQUIRE(ledger.add_credential("sk-live-alice-secret", "alice").value());
  CHECK(ledger.add_credential("sk-live-alice-secret", "alice").value());  // the same mapping again is fine
  REQUIRE(ledger.add_user("bob", 1_cr).value());
  CHECK_FALSE(ledger.add_credential("sk-live-alice-secret", "bob").value());  // someone else's
  CHECK_FALSE(ledger.add_credential("sk-new", "nobody").value());             // unknown user

  SUBCASE("credentials are stored as SHA-256 only") {
    const std::string keys = redis.command({"KEYS", "*"});
    CHECK(keys.find("sk-live-alice-secret") == std::string::npos);
    CHECK(redis.command({"HGET", fmt::format("{}:cred:{}", p, tollgate::detail::sha256_hex("sk-live-alice-secret")), "user"}) == "alice");
  }

  SUBCASE("amounts are integer micro-credits; a lock and a settle are one round trip each") {
    auto grant = ledger.lock("sk-live-alice-secret", 2.5_cr, "req-1");  // first use: the credential is looked up once
    REQUIRE(grant);
    CHECK(redis.command({"HGET", fmt::format("{}:{{alice}}:account", p), "available"}) == "7500000");
    CHECK(redis.command({"HGET", fmt::format("{}:{{alice}}:account", p), "held"}) == "2500000");
    REQUIRE(ledger.settle(grant->lock_id, 0.000001_cr));  // first settle: Redis learns the script (NOSCRIPT, then EVAL)
    // Commands sent by clients (commandstats also counts the calls a script makes inside Redis;
    // the scripts use none of these).
    const auto commands = [&] {
      const std::string stats = redis.command({"INFO", "commandstats"});
      long total = 0;
      for (const char* name : {"evalsha", "eval", "hmget", "ping", "scan", "auth", "select", "cluster"}) {
        const auto at = stats.find(fmt::format("cmdstat_{}:calls=", name));
        if (at != std::string::npos) total += std::stol(stats.substr(stats.find('=', at) + 1));
      }
      return total;
    };
    const long start = commands();
    for (int i = 0; i < 10; ++i) {
      auto next = ledger.lock("sk-live-alice-secret", 1_cr, fmt::format("req-{}", i + 2));
      REQUIRE(next);
      REQUIRE(ledger.settle(next->lock_id, 0.25_cr));
    }
    CHECK(commands() - start == 20);  // 10 locks and 10 settles: one command each
    CHECK(ledger.balance("alice").value() == 10_cr - 2.5_cr - 0.000001_cr);
    CHECK(money_of(redis, p, "alice") == 10_cr);
  }

  SUBCASE("amounts a Lua double cannot carry exactly are refused, never rounded") {
    const credits too_big = tollgate::redis_ledger::max_amount + credits::from_micros(1);
    CHECK(ledger.lock("alice", too_big, "").error().code == ledger_errc::invalid_amount);
    CHECK(ledger.add_user("carol", too_big).error().code == ledger_errc::invalid_amount);
    REQUIRE(ledger.add_user("dave", tollgate::redis_ledger::max_amount).value());
    CHECK(ledger.top_up("dave", credits::from_micros(1)).error().code == ledger_errc::invalid_amount);
    REQUIRE(ledger.add_credential("dave", "dave").value());
    auto all = ledger.lock("dave", tollgate::redis_ledger::max_amount, "big");
    REQUIRE(all);
    CHECK(ledger.settle(all->lock_id, tollgate::redis_ledger::max_amount - credits::from_micros(1)));
    CHECK(ledger.balance("dave").value() == credits::from_micros(1));
  }

  SUBCASE("lock ids carry their user; forged or foreign ids are lock_not_found") {
    REQUIRE(ledger.add_credential("alice", "alice").value());
    auto grant = ledger.lock("alice", 1_cr, "");
    REQUIRE(grant);
    CHECK(grant->lock_id.rfind("rl_", 0) == 0);
    for (std::string forged : {"rl_1_", "rl__0123456789ab_YWxpY2U", "rl_x_0123456789ab_YWxpY2U", "rl_999_0123456789ab_YWxpY2U",
                               "rl_1_0123456789ab_!!!", "rl_1_YWxpY2U", "lk_1_2", ""})
      CHECK(ledger.settle(forged, 0_cr).error().code == ledger_errc::lock_not_found);
    // The right number and user with another nonce: what a lock lost in a failover and given
    // again under the same number looks like to its first owner. It must not settle the new one.
    auto parts = tollgate::redis::parse_lock_id(grant->lock_id);
    REQUIRE(parts);
    const std::string other_nonce = parts->nonce == "000000000000" ? "000000000001" : "000000000000";
    CHECK(ledger.settle(tollgate::redis::format_lock_id(parts->number, other_nonce, parts->user), 1_cr).error().code ==
          ledger_errc::lock_not_found);
    CHECK(ledger.balance("alice").value() == 9_cr);  // untouched: still held
    CHECK(ledger.release(grant->lock_id));
  }

  SUBCASE("top-up, summary and the sweep of holds nobody comes back for") {
    CHECK(ledger.top_up("bob", 2_cr).value() == 3_cr);
    CHECK(ledger.top_up("nobody", 2_cr).error().code == ledger_errc::unknown_credential);
    REQUIRE(ledger.add_credential("bob", "bob").value());
    auto held = ledger.lock("bob", 1_cr, "b1");
    REQUIRE(held);
    const auto s = ledger.summary().value();
    REQUIRE(s.users.size() == 2);
    CHECK(s.users[1].user_id == "bob");
    CHECK(s.users[1].available == 2_cr);
    CHECK(s.users[1].held == 1_cr);
    REQUIRE(s.locks.size() == 1);
    CHECK(s.locks[0].lock_id == held->lock_id);
    CHECK(s.locks[0].user_id == "bob");
  }
}

TEST_CASE("redis_ledger: logins and databases from the URL, on a Redis that requires them") {
  // A password for the default user, and an ACL user of its own.
  redis_server redis({"--requirepass", "default-secret", "--user", "api", "on", ">api-secret", "~*", "&*", "+@all"});
  const int port = redis.port();
  const auto ledger_at = [](const std::string& url) {
    auto o = options_for(url);
    o.breaker_failures = 1000;  // every refusal below is its own answer, not a breaker's
    o.key_prefix = "login";     // one key space for every ledger of this test
    return std::make_unique<tollgate::redis_ledger>(o);
  };

  SUBCASE("no login, a wrong password, a wrong ACL user: unauthorized, and never the secret in the message") {
    for (const std::string& url : {fmt::format("redis://127.0.0.1:{}", port), fmt::format("redis://:wrong-secret@127.0.0.1:{}", port),
                                  fmt::format("redis://api:wrong-secret@127.0.0.1:{}", port)}) {
      auto ledger = ledger_at(url);
      const auto r = ledger->add_user("alice", 1_cr);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == ledger_errc::unauthorized);
      CHECK(r.error().message.find("wrong-secret") == std::string::npos);
      CHECK_FALSE(ledger->health());
    }
  }
  SUBCASE("the default user's password, and an ACL user in database 3") {
    auto by_password = ledger_at(fmt::format("redis://:default-secret@127.0.0.1:{}", port));
    add_funded_user(*by_password, "alice", 5_cr);
    CHECK(by_password->health());
    auto by_acl_user = ledger_at(fmt::format("redis://api:api-secret@127.0.0.1:{}/3", port));
    add_funded_user(*by_acl_user, "bob", 7_cr);
    auto grant = by_acl_user->lock("bob", 2_cr, "k");
    REQUIRE(grant);
    REQUIRE(by_acl_user->settle(grant->lock_id, 1_cr));
    CHECK(by_acl_user->balance("bob").value() == 6_cr);
    CHECK(by_acl_user->balance("alice").error().code == ledger_errc::unknown_credential);  // alice is in database 0
    // The same ACL user in database 0 sees alice and not bob: SELECT took effect.
    auto acl_in_zero = ledger_at(fmt::format("redis://api:api-secret@127.0.0.1:{}", port));
    CHECK(acl_in_zero->balance("alice").value() == 5_cr);
    CHECK(acl_in_zero->balance("bob").error().code == ledger_errc::unknown_credential);
  }
}

TEST_CASE("redis_ledger: holds of a crashed API server come back by the sweep") {
  redis_server redis;
  auto options = options_for(redis.url(), std::chrono::milliseconds(300));
  {
    tollgate::redis_ledger crashed(options);  // this "API server" locks and never settles
    for (int u = 0; u < 20; ++u) {
      const std::string user = fmt::format("u{}", u);
      add_funded_user(crashed, user, 5_cr);
      for (int i = 0; i < 3; ++i) REQUIRE(crashed.lock(user, 1_cr, fmt::format("k{}", i)));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  tollgate::redis_ledger survivor(options);
  CHECK(redis.command({"HGET", fmt::format("{}:{{u7}}:account", options.key_prefix), "held"}) == "3000000");  // nobody touched u7 yet
  CHECK(survivor.sweep().value() == 60);
  CHECK(redis.command({"HGET", fmt::format("{}:{{u7}}:account", options.key_prefix), "held"}) == "0");
  CHECK(survivor.balance("u7").value() == 5_cr);
  CHECK(survivor.sweep().value() == 0);

  SUBCASE("the background sweep does it on its own") {
    auto background = options;
    background.sweep_every = std::chrono::milliseconds(100);
    tollgate::redis_ledger ledger(background);
    REQUIRE(ledger.lock("u3", 5_cr, "all"));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    CHECK(redis.command({"HGET", fmt::format("{}:{{u3}}:account", options.key_prefix), "held"}) == "0");
  }
}

TEST_CASE("redis_ledger: Redis down, paused or restarting answers unavailable within the timeout") {
  SUBCASE("nothing listening") {
    auto options = options_for(fmt::format("redis://127.0.0.1:{}", tollgate::testing::free_loopback_port()));
    tollgate::redis_ledger ledger(options);
    CHECK_FALSE(ledger.health());
    const auto r = ledger.lock("alice", 1_cr, "k");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ledger_errc::unavailable);
    CHECK_FALSE(r.error().may_have_applied);
  }
  SUBCASE("a paused Redis (SIGSTOP) bounds every call by the command timeout") {
    redis_server redis;
    tollgate::redis_ledger ledger(outage_options_for(redis.url(), std::chrono::milliseconds(300)));
    add_funded_user(ledger, "alice", 10_cr);
    auto grant = ledger.lock("alice", 1_cr, "before");
    REQUIRE(grant);
    redis.pause();
    for (int i = 0; i < 8; ++i) {  // through the breaker's opening too
      const auto start = std::chrono::steady_clock::now();
      const auto r = ledger.settle(grant->lock_id, 0.5_cr);
      const auto took = std::chrono::steady_clock::now() - start;
      REQUIRE_FALSE(r);
      CHECK(r.error().code == ledger_errc::unavailable);
      CHECK(took < std::chrono::milliseconds(1'000));  // one timeout (+ one fresh-connection retry), never a hang
    }
    CHECK_FALSE(ledger.health());
    redis.resume();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the breaker lets a probe through
    tollgate::result<tollgate::settlement> s = tollgate::ledger_error{ledger_errc::unavailable, ""};
    for (int i = 0; i < 20 && !s; ++i) {
      s = ledger.settle(grant->lock_id, 0.5_cr);
      if (!s) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(s);
    CHECK(ledger.balance("alice").value() == 9.5_cr);  // settled once, whatever the paused attempts did
  }
}

TEST_CASE("redis_ledger: Redis killed and restarted mid-load (AOF, appendfsync always) loses nothing acknowledged") {
  redis_server redis({}, /*aof_always=*/true);
  const auto options = outage_options_for(redis.url(), std::chrono::milliseconds(500));
  tollgate::redis_ledger admin(options);
  constexpr int users = 4, threads = 4;
  const credits start = 1000_cr;
  for (int u = 0; u < users; ++u) add_funded_user(admin, fmt::format("user{}", u), start);
  // Each worker's own durable outbox: a settle that meets the outage is retried until it lands.
  std::atomic<bool> stop{false};
  std::atomic<int> granted{0}, unavailable_answers{0};
  std::mutex acknowledged_mutex;
  std::map<std::string, credits> acknowledged;  // lock id → what the ledger said it charged
  std::vector<std::pair<std::string, std::string>> orphans;  // (user, idempotency key) of locks whose answer was lost
  tollgate::redis_ledger ledger(options);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string user = fmt::format("user{}", (t + i) % users);
        const std::string key = fmt::format("w{}-{}", t, i);
        const auto grant = ledger.lock(user, 1_cr, key);
        if (!grant) {
          ++unavailable_answers;
          if (grant.error().may_have_applied) {  // the hold may exist: look it up again later, as durable_ledger does
            std::lock_guard guard(acknowledged_mutex);
            orphans.emplace_back(user, key);
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        ++granted;
        const credits cost = credits::from_micros(1 + (i % 7) * 100'000);
        for (;;) {  // what durable_ledger does: retry the same settle until the ledger answers
          const auto s = ledger.settle(grant->lock_id, cost);
          if (s) {
            std::lock_guard guard(acknowledged_mutex);
            acknowledged[grant->lock_id] = s->charged;
            break;
          }
          REQUIRE(s.error().code == ledger_errc::unavailable);
          ++unavailable_answers;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  redis.kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK_FALSE(ledger.health());
  redis.restart();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  stop = true;
  for (auto& w : workers) w.join();

  CHECK(granted > 50);
  CHECK(unavailable_answers > 0);  // the outage was seen, and answered, not hung on
  // Conservation: every credit is available, held, or charged by a settled lock.
  for (int u = 0; u < users; ++u) CHECK(money_of(redis, options.key_prefix, fmt::format("user{}", u)) == start);
  // Every acknowledged settle is in Redis with the charge the client was told, applied once.
  for (const auto& [lock_id, charged] : acknowledged) {
    const auto again = admin.settle(lock_id, charged);
    REQUIRE(again);
    CHECK(again->replayed);
  }
  // A lock whose answer was lost is found again by its idempotency key (the first grant if it
  // landed, a new one if not) and released: then no hold is left open.
  for (const auto& [user, key] : orphans) {
    const auto again = admin.lock(user, 1_cr, key);
    REQUIRE(again);
    REQUIRE(admin.release(again->lock_id));
  }
  CHECK(admin.summary().value().locks.empty());
}

TEST_CASE("durable_ledger<redis_ledger>: settles during an outage land after it") {
  redis_server redis({}, true);
  tollgate::redis_ledger inner(outage_options_for(redis.url(), std::chrono::milliseconds(300)));
  add_funded_user(inner, "alice", 10_cr);
  tollgate::durable_ledger_options outbox;
  outbox.log = tollgate::logger::silent();
  outbox.first_retry = std::chrono::milliseconds(50);
  outbox.max_retry = std::chrono::milliseconds(200);
  tollgate::durable_ledger<tollgate::redis_ledger> ledger(inner, outbox);
  auto grant = ledger.lock("alice", 2_cr, "k");
  REQUIRE(grant);
  redis.kill();
  const auto s = ledger.settle(grant->lock_id, 1.5_cr);
  REQUIRE(s);
  CHECK(s->deferred);  // accepted for later delivery
  redis.restart();
  for (int i = 0; i < 100; ++i) {
    if (auto b = inner.balance("alice"); b && *b == 8.5_cr) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(inner.balance("alice").value() == 8.5_cr);
}

namespace {

// Three masters on loopback, slots spread by redis-cli, no replicas.
struct redis_cluster {
  std::vector<std::unique_ptr<redis_server>> nodes;
  redis_cluster() {
    for (int i = 0; i < 3; ++i)
      nodes.push_back(std::make_unique<redis_server>(std::vector<std::string>{
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
          // The bus port defaults to port + 10000, which may be taken or past 65535: pick one.
          "--cluster-port", std::to_string(tollgate::testing::free_loopback_port())}));
    std::string command = fmt::format("{} --cluster create", TOLLGATE_REDIS_CLI_BINARY);
    for (const auto& n : nodes) command += fmt::format(" 127.0.0.1:{}", n->port());
    command += " --cluster-replicas 0 --cluster-yes > /dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (const auto& n : nodes) {
      while (n->command({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  static std::string nodes_line(redis_server& n, const std::string& id) {
    const std::string all = n.command({"CLUSTER", "NODES"});
    const auto at = all.find(id);
    return all.substr(at, all.find('\n', at) - at);
  }
  // Whether `n`'s own line in CLUSTER NODES lists `slot` (single slots or ranges a-b): the
  // cluster's word, not our slot code's.
  static bool serves(redis_server& n, int slot) {
    const std::string line = nodes_line(n, n.command({"CLUSTER", "MYID"}));
    std::size_t field = 0, at = 0;
    while (field < 8 && at != std::string::npos) {
      at = line.find(' ', at + 1);
      ++field;
    }
    while (at != std::string::npos && at + 1 < line.size()) {
      const auto next = line.find(' ', at + 1);
      const std::string range = line.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      const auto dash = range.find('-');
      if (!range.empty() && range[0] != '[') {
        const int first = std::stoi(range.substr(0, dash)), last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
        if (slot >= first && slot <= last) return true;
      }
      at = next;
    }
    return false;
  }
  // Moves one slot, keys and all, from its owner to `to`, as redis-cli's resharding does.
  void move_slot(int slot, redis_server& from, redis_server& to) {
    const std::string s = std::to_string(slot), from_id = from.command({"CLUSTER", "MYID"}), to_id = to.command({"CLUSTER", "MYID"});
    to.command({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id});
    from.command({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
    for (;;) {
      const std::string keys = from.command({"CLUSTER", "GETKEYSINSLOT", s, "100"});
      if (keys.empty()) break;
      std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(to.port()), "", "0", "5000", "KEYS"};
      std::size_t start = 0;
      while (start <= keys.size()) {
        const auto end = std::min(keys.find(' ', start), keys.size());
        migrate.push_back(keys.substr(start, end - start));
        start = end + 1;
      }
      from.command(migrate);
    }
    for (auto& n : nodes) n->command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  }
};

}  // namespace

TEST_CASE("redis_ledger on a 3-master Redis Cluster: conformance, slot placement, and a slot moved under it") {
  redis_cluster cluster;
  SUBCASE("the conformance suite, through any node") {
    redis_fixture fixture(cluster.nodes[1]->url());
    const auto report = tollgate::testing::check_ledger_conformance(fixture);
    INFO(report.text());
    CHECK(report.ok());
    CHECK(fixture.ledger().client().is_cluster());
  }
  SUBCASE("asio::redis_ledger is single-node: on a cluster, a key on another node is misconfigured, naming the fix") {
    const auto options = options_for(cluster.nodes[0]->url());
    tollgate::redis_ledger setup(options);
    std::string user;
    for (int u = 0; user.empty() || redis_cluster::serves(*cluster.nodes[0], tollgate::redis::slot_of(user)); ++u) user = fmt::format("elsewhere-{}", u);
    add_funded_user(setup, user, 10_cr);
    boost::asio::io_context io;
    tollgate::asio::redis_ledger on_loop(io.get_executor(), options);
    std::optional<tollgate::result<tollgate::lock_grant>> got;
    on_loop.async_lock(user, 1_cr, "k", [&](tollgate::result<tollgate::lock_grant> r) { got.emplace(std::move(r)); });
    while (!got && io.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    REQUIRE(got.has_value());
    REQUIRE_FALSE(*got);
    CHECK(got->error().code == ledger_errc::misconfigured);
    CHECK(got->error().message.find("Redis Cluster") != std::string::npos);
  }
  SUBCASE("each user's keys live on its slot's node, and follow it when it moves") {
    auto options = options_for(cluster.nodes[0]->url());
    tollgate::redis_ledger ledger(options);
    std::set<int> owners;
    for (int u = 0; u < 12; ++u) {
      const std::string user = fmt::format("spread-{}", u);
      add_funded_user(ledger, user, 10_cr);
      auto grant = ledger.lock(user, 1_cr, "k");
      REQUIRE(grant);
      const int slot = tollgate::redis::slot_of(user);
      CHECK(std::stoi(cluster.nodes[0]->command({"CLUSTER", "KEYSLOT", fmt::format("{}:{{{}}}:account", options.key_prefix, user)})) == slot);
      int holders = 0;
      for (std::size_t n = 0; n < cluster.nodes.size(); ++n) {
        const bool here = cluster.nodes[n]->command({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}) != "0";
        if (here) {
          ++holders;
          owners.insert(static_cast<int>(n));
          CHECK(redis_cluster::serves(*cluster.nodes[n], slot));
        }
      }
      CHECK(holders == 1);  // one node has all five keys of the user
      CHECK(ledger.settle(grant->lock_id, 0.5_cr));
    }
    CHECK(owners.size() == 3);  // twelve users spread over all three masters

    // Move the slot of a user with an open lock; the ledger's cached topology is now stale.
    const std::string user = "spread-0";
    auto grant = ledger.lock(user, 2_cr, "moving");
    REQUIRE(grant);
    const int slot = tollgate::redis::slot_of(user);
    redis_server* from = nullptr;
    for (auto& n : cluster.nodes)
      if (redis_cluster::serves(*n, slot)) from = n.get();
    REQUIRE(from != nullptr);
    redis_server* to = cluster.nodes[0].get() == from ? cluster.nodes[1].get() : cluster.nodes[0].get();
    cluster.move_slot(slot, *from, *to);
    CHECK(from->command({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}) == "0");
    auto settled = ledger.settle(grant->lock_id, 1_cr);  // MOVED, followed
    REQUIRE(settled);
    CHECK_FALSE(settled->replayed);
    CHECK(ledger.balance(user).value() == 10_cr - 0.5_cr - 1_cr);
    CHECK(to->command({"HGET", fmt::format("{}:{{{}}}:account", options.key_prefix, user), "available"}) == "8500000");
  }
}

TEST_CASE("two quickstart processes on one Redis spend one balance: never below zero, exact at the end") {
  redis_server redis({}, /*aof_always=*/true);
  using tollgate::testing::child_process;
  child_process first({TOLLGATE_QUICKSTART_BINARY, "--port", "0", "--redis", redis.url()});
  const int first_port = first.read_port();
  httplib::Client probe("127.0.0.1", first_port);
  auto spent = probe.Get("/api/simple", {{"X-User-ID", "test-user-1"}});
  REQUIRE(spent);
  REQUIRE(spent->status == 200);
  // A second quickstart finds the demo users in Redis and leaves their balances alone.
  child_process second({TOLLGATE_QUICKSTART_BINARY, "--port", "0", "--redis", redis.url()});
  const int second_port = second.read_port();
  auto balance = httplib::Client("127.0.0.1", second_port).Get("/api/test/balance?user_id=test-user-1");
  REQUIRE(balance);
  CHECK(balance->body.find("\"balance\":99") != std::string::npos);

  std::atomic<int> ok{1}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client api("127.0.0.1", c % 2 == 0 ? first_port : second_port);
      for (int i = 0; i < 40; ++i) {
        auto r = api.Get("/api/simple", {{"X-User-ID", "test-user-1"}});  // 1 credit each, 100 in all
        if (r && r->status == 200) {
          ++ok;
        } else if (r && r->status == 402) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  CHECK(other == 0);
  CHECK(ok == 100);  // 320 tries at 1 credit on 100 credits: exactly 100 served, from both processes
  CHECK(refused == 320 - 99);
  for (int port : {first_port, second_port}) {
    auto b = httplib::Client("127.0.0.1", port).Get("/api/test/balance?user_id=test-user-1");
    REQUIRE(b);
    CHECK(b->body.find("\"balance\":0") != std::string::npos);
  }
  auto untouched = httplib::Client("127.0.0.1", second_port).Get("/api/test/balance?user_id=test-user-2");
  REQUIRE(untouched);
  CHECK(untouched->body.find("\"balance\":100") != std::string::npos);
  // No hold is left open: every lock was settled by the process that took it.
  for (const char* user : {"test-user-1", "test-user-2"})
    CHECK(redis.command({"HGET", fmt::format("tg:{{{}}}:account", user), "held"}) == "0");
  CHECK(redis.command({"ZCARD", "tg:{test-user-1}:open"}) == "0");

  // Redis goes away: the metered endpoint answers 503 with Retry-After and runs no handler; when
  // Redis is back, requests are served again (the pool replaces its dead connections).
  redis.kill();
  auto down = httplib::Client("127.0.0.1", first_port).Get("/api/simple", {{"X-User-ID", "test-user-2"}});
  REQUIRE(down);
  CHECK(down->status == 503);
  CHECK(down->get_header_value("Retry-After") == "1");
  CHECK(down->body.find("detail") != std::string::npos);
  redis.restart();  // from its AOF: every acknowledged change is back
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    auto r = httplib::Client("127.0.0.1", first_port).Get("/api/simple", {{"X-User-ID", "test-user-2"}});
    status = r ? r->status : 0;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(status == 200);
  auto after = httplib::Client("127.0.0.1", second_port).Get("/api/test/balance?user_id=test-user-2");
  REQUIRE(after);
  CHECK(after->body.find("\"balance\":99") != std::string::npos);  // 100, less the one request served after the restart
  CHECK(redis.command({"HGET", "tg:{test-user-1}:account", "available"}) == "0");
}

TEST_CASE("credit servers on one Redis: a lock taken through one settles through another after it is killed; Redis down is 503") {
  redis_server redis;
  using tollgate::testing::child_process;
  const auto start = [&] {
    return std::make_unique<child_process>(std::vector<std::string>{TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", "shared-token",
                                                                     "--redis", redis.url(), "--log-level", "error"});
  };
  auto a = start(), b = start();
  const int port_a = a->read_port(), port_b = b->read_port();
  const httplib::Headers auth{{"Authorization", "Bearer shared-token"}};
  httplib::Client api_a("127.0.0.1", port_a), api_b("127.0.0.1", port_b);
  REQUIRE(api_a.Post("/v1/users", auth, R"({"user_id": "carol", "balance": 10})", "application/json")->status == 200);
  CHECK(api_b.Post("/v1/users", auth, R"({"user_id": "carol", "balance": 10})", "application/json")->status == 409);  // B sees A's user
  REQUIRE(api_b.Post("/v1/credential", auth, R"({"user_id": "carol", "credential_key": "sk-carol"})", "application/json")->status == 200);
  // The same credential as public through A: the registration made through B stands.
  CHECK(api_a.Post("/v1/credential", auth, R"({"user_id": "carol", "credential_key": "sk-carol", "is_public": true})", "application/json")->status == 409);
  CHECK(api_a.Post("/v1/balance/lock/public", auth, R"({"credential": "sk-carol", "amount": 1})", "application/json")->status == 404);

  auto locked = api_a.Post("/v1/balance/lock/private", auth, R"({"credential": "sk-carol", "amount": 4})", "application/json");
  REQUIRE(locked);
  REQUIRE(locked->status == 200);
  const std::string lock_id = nlohmann::json::parse(locked->body).at("lock_id");
  a->stop(SIGKILL);  // the credit server that granted the lock is gone
  auto settled = api_b.Post("/v1/balance/unlock", auth, nlohmann::json{{"lock_id", lock_id}, {"real_cost", 1.5}}.dump(), "application/json");
  REQUIRE(settled);
  CHECK(settled->status == 200);
  auto balance = api_b.Get("/v1/users/carol", auth);
  REQUIRE(balance);
  CHECK(nlohmann::json::parse(balance->body).at("balance").get<credits>() == 8.5_cr);

  redis.kill();
  auto down = api_b.Post("/v1/balance/lock/private", auth, R"({"credential": "sk-carol", "amount": 1})", "application/json");
  REQUIRE(down);
  CHECK(down->status == 503);
  CHECK(down->get_header_value("Retry-After") == "1");
  CHECK(nlohmann::json::parse(down->body).at("code") == "unavailable");
}
