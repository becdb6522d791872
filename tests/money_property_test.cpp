// Money property test: random lock/settle/release/expiry/top-up/replay sequences, checked step by
// step against a plain reference model with exact conservation: against memory_ledger directly,
// and through the credit service's HTTP API (credit_service_ledger → credit_service → the same
// kind of ledger) on loopback, so the wire's amounts and error mapping are held to the same model.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/credits.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/service/credit_service.hpp>

#include "support/http_server.hpp"

// Operations per run (a million takes about 5 s in a Debug build here); the environment variable
// TOLLGATE_MONEY_OPS overrides it at run time, TOLLGATE_MONEY_SEED the seed.
#ifndef TOLLGATE_MONEY_PROPERTY_OPS
#define TOLLGATE_MONEY_PROPERTY_OPS 1'000'000
#endif

using tollgate::credits;
using tollgate::ledger_errc;

namespace {

__extension__ using int128 = __int128;
__extension__ using uint128 = unsigned __int128;
using time_point = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

constexpr std::int64_t max_micros = std::numeric_limits<std::int64_t>::max();

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 0);
}

std::string text_of(int128 v) {
  const bool negative = v < 0;
  auto magnitude = negative ? -static_cast<uint128>(v) : static_cast<uint128>(v);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  return negative ? "-" + digits : digits;
}

// The reference: what every call must answer, written as plainly as possible.
struct model {
  enum class phase { open, settled, expired };
  struct lock {
    std::string id;
    int user;
    std::int64_t amount;
    time_point expires;
    std::string key;
    phase state = phase::open;
    std::int64_t charged = 0;
    bool forgotten = false;
  };
  struct user {
    std::string id;
    std::int64_t available = 0;
    std::int64_t held = 0;
  };

  milliseconds ttl, grace;
  bool allow_overage;
  std::vector<user> users;
  std::vector<lock> locks;  // in the order taken: expiry and forgetting follow this order
  std::unordered_map<std::string, std::size_t> by_id;
  std::map<std::pair<int, std::string>, std::size_t> by_key;
  std::size_t expire_from = 0, forget_from = 0;
  int128 initial = 0, topped_up = 0, charged = 0;

  // Brings the model to `now`: holds of due locks return, closed locks past retention are forgotten.
  void advance(time_point now) {
    for (; expire_from < locks.size() && locks[expire_from].expires <= now; ++expire_from) {
      lock& lk = locks[expire_from];
      if (lk.state != phase::open) continue;
      users[static_cast<std::size_t>(lk.user)].held -= lk.amount;
      users[static_cast<std::size_t>(lk.user)].available += lk.amount;
      lk.state = phase::expired;
    }
    for (; forget_from < locks.size() && locks[forget_from].expires + grace <= now; ++forget_from) {
      lock& lk = locks[forget_from];
      lk.forgotten = true;
      if (!lk.key.empty()) by_key.erase({lk.user, lk.key});
    }
  }
};

// The ledger's clock, moved by the test; read by the credit service's threads too, hence atomic.
class fake_clock {
 public:
  [[nodiscard]] time_point now() const { return time_point{time_point::duration{ticks_.load()}}; }
  void advance(time_point::duration by) { ticks_ += by.count(); }

 private:
  std::atomic<time_point::rep> ticks_{std::chrono::duration_cast<time_point::duration>(std::chrono::hours(1)).count()};
};

// How the operations reach the ledger.
enum class path { direct, over_http };

struct run_stats {
  std::uint64_t ops = 0, locks = 0, settles = 0, replays = 0, conflicts = 0, expired = 0, not_found = 0, overflow_refusals = 0,
                checks = 0;
};

// One run of `ops` random operations; every answer is compared with the model as it happens.
run_stats run(std::uint64_t seed, std::uint64_t ops, bool allow_overage, path via = path::direct) {
  std::mt19937_64 rng(seed);
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto uniform = [&](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng); };

  auto clock = std::make_shared<fake_clock>();
  tollgate::memory_ledger_options options;
  options.lock_ttl = milliseconds(1000);
  options.retention_grace = milliseconds(500);
  options.allow_overage = allow_overage;
  options.now = [clock] { return clock->now(); };
  tollgate::memory_ledger ledger(options);

  // Over HTTP: lock, settle and release go through the client and the service; administration
  // (users, top-ups, the summary) stays on the ledger, as an operator's tools would.
  std::optional<tollgate::credit_service> service;
  std::optional<tollgate::testing::http_server> server;
  std::optional<tollgate::credit_service_ledger> client;
  if (via == path::over_http) {
    service.emplace(ledger, tollgate::redacted("money-test-token"), tollgate::logger::silent());
    server.emplace();
    tollgate::tune(server->server);  // as the shipped credit server is (TCP_NODELAY above all)
    service->mount(server->server);
    const int port = server->start();
    tollgate::credit_service_ledger_options o;
    o.base_url = fmt::format("http://127.0.0.1:{}", port);
    o.api_token = tollgate::redacted("money-test-token");
    o.timeout = std::chrono::seconds(30);
    o.breaker_failures = 1'000'000;  // every failure here is a test failure, not an outage to ride out
    o.log = tollgate::logger::silent();
    client.emplace(o);
  }
  auto lock = [&](const std::string& credential, credits amount, const std::string& key) {
    return client ? client->lock(credential, amount, key) : ledger.lock(credential, amount, key);
  };
  auto settle = [&](const std::string& id, credits cost) { return client ? client->settle(id, cost) : ledger.settle(id, cost); };
  auto release = [&](const std::string& id) { return client ? client->release(id) : ledger.release(id); };

  model m{options.lock_ttl, options.retention_grace, allow_overage, {}, {}, {}, {}, 0, 0, 0, 0, 0};
  // Ordinary users, one near the top of the range (overflow edges), one with nothing.
  const std::vector<std::int64_t> initial = {100'000'000, 250'000'000, 5'000'000, 1'000'000'000, 42, 0, max_micros - 3'000'000};
  for (std::size_t i = 0; i < initial.size(); ++i) {
    const std::string id = fmt::format("user-{}", i);
    REQUIRE(ledger.add_user(id, credits::from_micros(initial[i])));
    REQUIRE(ledger.add_credential(fmt::format("sk-{}", i), id));
    m.users.push_back({id, initial[i], 0});
    m.initial += initial[i];
  }
  const int user_count = static_cast<int>(m.users.size());

  run_stats stats;
  auto expect_error = [&](const auto& r, ledger_errc code, const char* what) {
    INFO(what, ": expected error ", to_string(code));
    REQUIRE_FALSE(r.has_value());
    REQUIRE(r.error().code == code);
  };

  // A random amount: mostly modest, sometimes all of it, sometimes absurd or negative.
  auto amount_for = [&](std::int64_t around) -> std::int64_t {
    const double p = std::uniform_real_distribution<double>(0, 1)(rng);
    if (p < 0.03) return -uniform(1, 1'000'000);
    if (p < 0.06) return uniform(max_micros - 1'000'000, max_micros);
    if (p < 0.10) return around;
    if (p < 0.15) return 0;
    return uniform(0, std::max<std::int64_t>(around, 1) * 2);
  };

  // Full check: every user's balances, the open locks, and conservation to the micro-credit.
  auto check_all = [&] {
    ++stats.checks;
    m.advance(clock->now());
    const auto summary = ledger.summary();
    REQUIRE(summary.users.size() == m.users.size());
    int128 total = 0;
    for (const auto& u : summary.users) {
      const auto& expected = m.users[static_cast<std::size_t>(std::stoi(u.user_id.substr(5)))];
      INFO("user ", u.user_id);
      REQUIRE(u.available.micros() == expected.available);
      REQUIRE(u.held.micros() == expected.held);
      total += u.available.micros();
      total += u.held.micros();
    }
    std::size_t open = 0;
    int128 open_amount = 0, summary_open_amount = 0;
    for (std::size_t i = m.expire_from; i < m.locks.size(); ++i)
      if (m.locks[i].state == model::phase::open) { ++open; open_amount += m.locks[i].amount; }
    for (const auto& l : summary.locks) summary_open_amount += l.amount.micros();
    REQUIRE(summary.locks.size() == open);
    REQUIRE(text_of(summary_open_amount) == text_of(open_amount));
    INFO("balances ", text_of(total), " + charged ", text_of(m.charged), " vs initial ", text_of(m.initial), " + top-ups ",
         text_of(m.topped_up));
    REQUIRE(text_of(total + m.charged) == text_of(m.initial + m.topped_up));
  };

  // A lock to act on: usually a recent one, sometimes any lock ever taken (maybe forgotten).
  auto pick_lock = [&]() -> std::optional<std::size_t> {
    if (m.locks.empty()) return std::nullopt;
    const auto n = static_cast<std::int64_t>(m.locks.size());
    if (coin(0.1)) return static_cast<std::size_t>(uniform(0, n - 1));
    return static_cast<std::size_t>(uniform(std::max<std::int64_t>(0, n - 64), n - 1));
  };

  auto do_settle = [&](std::size_t index, std::int64_t cost, bool is_release) {
    ++stats.settles;
    auto r = is_release ? release(m.locks[index].id) : settle(m.locks[index].id, credits::from_micros(cost));
    if (is_release) cost = 0;
    m.advance(clock->now());
    model::lock& lk = m.locks[index];
    INFO("settle ", lk.id, " for ", cost, " (lock amount ", lk.amount, ")");
    if (cost < 0) return expect_error(r, ledger_errc::invalid_amount, "negative cost");
    if (lk.forgotten) { ++stats.not_found; return expect_error(r, ledger_errc::lock_not_found, "forgotten lock"); }
    if (lk.state == model::phase::expired) { ++stats.expired; return expect_error(r, ledger_errc::lock_not_found, "expired lock"); }
    if (lk.state == model::phase::settled) {
      if (lk.charged == cost) {
        ++stats.replays;
        REQUIRE(r.has_value());
        REQUIRE(r->replayed);
        REQUIRE(r->charged.micros() == cost);
        return;
      }
      ++stats.conflicts;
      return expect_error(r, ledger_errc::conflicting_settlement, "conflicting settle");
    }
    auto& u = m.users[static_cast<std::size_t>(lk.user)];
    if (cost > lk.amount) {
      if (!m.allow_overage) return expect_error(r, ledger_errc::invalid_amount, "overage refused");
      if (u.available < cost - lk.amount) return expect_error(r, ledger_errc::insufficient_funds, "overage beyond balance");
    }
    REQUIRE(r.has_value());
    REQUIRE_FALSE(r->replayed);
    REQUIRE(r->charged.micros() == cost);
    u.held -= lk.amount;
    u.available += lk.amount - cost;
    lk.state = model::phase::settled;
    lk.charged = cost;
    m.charged += cost;
  };

  const std::uint64_t check_every = 4096;
  for (std::uint64_t step = 0; step < ops; ++step) {
    ++stats.ops;
    const int user = static_cast<int>(uniform(0, user_count - 1));
    const double op = std::uniform_real_distribution<double>(0, 1)(rng);
    if (op < 0.32) {  // lock, with a key that is often a replay
      ++stats.locks;
      std::string key;
      const double k = std::uniform_real_distribution<double>(0, 1)(rng);
      if (k < 0.55) key = fmt::format("k{}", uniform(0, 40));
      else if (k < 0.8) key = fmt::format("u{}", step);
      const bool unknown = coin(0.01);
      m.advance(clock->now());
      const std::int64_t amount = amount_for(m.users[static_cast<std::size_t>(user)].available / 8);
      auto r = lock(unknown ? "sk-nobody" : fmt::format("sk-{}", user), credits::from_micros(amount), key);
      m.advance(clock->now());
      INFO("lock user ", user, " amount ", amount, " key '", key, "'");
      if (amount < 0) { expect_error(r, ledger_errc::invalid_amount, "negative lock"); continue; }
      if (unknown) { expect_error(r, ledger_errc::unknown_credential, "unknown credential"); continue; }
      auto& u = m.users[static_cast<std::size_t>(user)];
      if (!key.empty()) {
        if (auto it = m.by_key.find({user, key}); it != m.by_key.end()) {
          if (client && amount != m.locks[it->second].amount) {
            // The service refuses a key reused for another amount (409) rather than answer the first grant.
            REQUIRE_FALSE(r.has_value());
            ++stats.replays;
            continue;
          }
          REQUIRE(r.has_value());
          REQUIRE(r->lock_id == m.locks[it->second].id);
          REQUIRE(r->amount.micros() == m.locks[it->second].amount);
          ++stats.replays;
          continue;
        }
      }
      if (u.available < amount) {
        if (amount > max_micros - 2'000'000) ++stats.overflow_refusals;
        expect_error(r, ledger_errc::insufficient_funds, "lock beyond balance");
        continue;
      }
      REQUIRE(r.has_value());
      REQUIRE(r->amount.micros() == amount);
      REQUIRE_FALSE(m.by_id.count(r->lock_id));
      u.available -= amount;
      u.held += amount;
      m.by_id.emplace(r->lock_id, m.locks.size());
      if (!key.empty()) m.by_key.emplace(std::pair{user, key}, m.locks.size());
      m.locks.push_back({r->lock_id, user, amount, clock->now() + m.ttl, key});
    } else if (op < 0.57) {  // settle: a fresh one, or a replay / conflict on a settled one
      auto index = pick_lock();
      if (!index) continue;
      const auto& lk = m.locks[*index];
      std::int64_t cost;
      const double c = std::uniform_real_distribution<double>(0, 1)(rng);
      if (lk.state == model::phase::settled && c < 0.5) cost = lk.charged;  // an exact replay
      else if (c < 0.6) cost = lk.amount;
      else if (c < 0.85) cost = uniform(0, lk.amount);
      else cost = amount_for(lk.amount);  // more than held, absurd, or negative
      do_settle(*index, cost, false);
    } else if (op < 0.67) {  // release
      if (auto index = pick_lock()) do_settle(*index, 0, true);
    } else if (op < 0.72) {  // a replay of the last settle, twice over
      if (auto index = pick_lock(); index && m.locks[*index].state == model::phase::settled) {
        do_settle(*index, m.locks[*index].charged, false);
        do_settle(*index, m.locks[*index].charged + 1, false);
      }
    } else if (op < 0.78) {  // top-up (after a balance read, so expired holds are back on both sides)
      m.advance(clock->now());
      auto& u = m.users[static_cast<std::size_t>(user)];
      auto before = ledger.balance(u.id);
      REQUIRE(before);
      REQUIRE(before->micros() == u.available);
      const double t = std::uniform_real_distribution<double>(0, 1)(rng);
      std::int64_t amount = t < 0.05 ? -uniform(1, 100) : t < 0.15 ? uniform(max_micros - u.available - u.held - 5, max_micros)
                                                                   : uniform(0, 50'000'000);
      const bool unknown = coin(0.01);
      auto r = ledger.top_up(unknown ? "nobody" : u.id, credits::from_micros(amount));
      INFO("top-up ", u.id, " by ", amount, " (available ", u.available, ", held ", u.held, ")");
      if (amount < 0) { expect_error(r, ledger_errc::invalid_amount, "negative top-up"); continue; }
      if (unknown) { expect_error(r, ledger_errc::unknown_credential, "unknown user"); continue; }
      if (u.available + u.held > max_micros - amount) {
        ++stats.overflow_refusals;
        expect_error(r, ledger_errc::invalid_amount, "top-up past the range");
        continue;
      }
      REQUIRE(r.has_value());
      u.available += amount;
      m.topped_up += amount;
      REQUIRE(r->micros() == u.available);
    } else if (op < 0.92) {  // time passes: locks expire, closed locks are forgotten
      clock->advance(milliseconds(coin(0.3) ? uniform(0, 400) : uniform(0, 20)));
    } else if (op < 0.98) {  // a balance read
      m.advance(clock->now());
      auto b = ledger.balance(m.users[static_cast<std::size_t>(user)].id);
      REQUIRE(b);
      REQUIRE(b->micros() == m.users[static_cast<std::size_t>(user)].available);
    } else {  // ids that never existed
      auto r = settle(coin(0.5) ? "lk_" : fmt::format("no-such-lock-{}", step), credits::from_micros(1));
      expect_error(r, ledger_errc::lock_not_found, "unknown lock id");
      REQUIRE_FALSE(ledger.balance("nobody"));
    }
    if ((step + 1) % check_every == 0) check_all();
  }
  check_all();
  // And at the end of time every hold has come back.
  clock->advance(std::chrono::hours(1));
  check_all();
  for (const auto& u : m.users) REQUIRE(u.held == 0);
  return stats;
}

}  // namespace

TEST_CASE("money: memory_ledger agrees with a reference model over a million random operations") {
  const std::uint64_t seed = env_or("TOLLGATE_MONEY_SEED", 20261128);
  const std::uint64_t ops = env_or("TOLLGATE_MONEY_OPS", TOLLGATE_MONEY_PROPERTY_OPS);
  MESSAGE("money property test: seed ", seed, " (TOLLGATE_MONEY_SEED), ", ops, " operations (TOLLGATE_MONEY_OPS)");
  INFO("seed ", seed, ", ops ", ops);
  const auto started = std::chrono::steady_clock::now();
  // Three quarters of the operations without overage, a quarter with it.
  const auto strict = run(seed, ops - ops / 4, false);
  const auto overage = run(seed + 1, ops / 4, true);
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  MESSAGE(fmt::format("{} operations in {} ms: {} locks, {} settles, {} replays, {} conflicts, {} expired, {} forgotten, "
                      "{} overflow refusals, {} full checks",
                      strict.ops + overage.ops, took.count(), strict.locks + overage.locks, strict.settles + overage.settles,
                      strict.replays + overage.replays, strict.conflicts + overage.conflicts, strict.expired + overage.expired,
                      strict.not_found + overage.not_found, strict.overflow_refusals + overage.overflow_refusals,
                      strict.checks + overage.checks));
  CHECK(strict.ops + overage.ops == ops);
  CHECK(strict.conflicts > 0);
  CHECK(strict.expired > 0);
  CHECK(strict.not_found > 0);
  CHECK(strict.overflow_refusals > 0);
}

TEST_CASE("money: through the credit service's HTTP API the same model holds, error case by error case") {
  const std::uint64_t seed = env_or("TOLLGATE_MONEY_SEED", 20261128) + 2;
  // Each operation is a loopback round trip, so fewer of them; TOLLGATE_MONEY_HTTP_OPS for more.
  const std::uint64_t ops = env_or("TOLLGATE_MONEY_HTTP_OPS", 20'000);
  MESSAGE("money property test over HTTP: seed ", seed, ", ", ops, " operations (TOLLGATE_MONEY_HTTP_OPS)");
  const auto started = std::chrono::steady_clock::now();
  const auto strict = run(seed, ops - ops / 4, false, path::over_http);
  const auto overage = run(seed + 1, ops / 4, true, path::over_http);
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  MESSAGE(fmt::format("{} operations over HTTP in {} ms: {} locks, {} settles, {} replays, {} conflicts, {} expired, {} forgotten",
                      strict.ops + overage.ops, took.count(), strict.locks + overage.locks, strict.settles + overage.settles,
                      strict.replays + overage.replays, strict.conflicts + overage.conflicts, strict.expired + overage.expired,
                      strict.not_found + overage.not_found));
  CHECK(strict.conflicts > 0);
  CHECK(strict.expired > 0);
  CHECK(strict.not_found > 0);
}
