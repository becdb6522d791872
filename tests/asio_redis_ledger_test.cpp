// asio::redis_ledger (hiredis's async API on an Asio loop) against real redis-server processes on
// loopback: the conformance suite through its async forms, alone and under durable_ledger; many
// locks in flight on one loop thread with no credit created or lost; the in-flight cap; logins and
// databases; Redis killed and restarted, and paused with SIGSTOP, mid-flight.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <tollgate/adapters/asio/redis_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/testing/awaiting_ledger.hpp>
#include <tollgate/testing/ledger_conformance.hpp>

#include "support/redis_money.hpp"
#include "support/redis_server.hpp"

using namespace tollgate::literals;
using namespace std::chrono_literals;
using tollgate::credits;
using tollgate::ledger_errc;
using tollgate::lock_grant;
using tollgate::result;
using tollgate::settlement;
using tollgate::testing::money_of;
using tollgate::testing::redis_server;
using clock_type = std::chrono::steady_clock;

namespace {

int prefix_counter = 0;

tollgate::redis_ledger_options options_for(const std::string& url, std::chrono::milliseconds ttl = 60s) {
  tollgate::redis_ledger_options o;
  o.url = url;
  o.key_prefix = fmt::format("async{}", ++prefix_counter);  // every ledger of the run on its own keys
  o.lock_ttl = ttl;
  o.sweep_every = 0ms;
  o.command_timeout = 2'000ms;
  o.breaker_open_for = 100ms;
  o.log = tollgate::logger::silent();
  return o;
}

// An io_context run by a thread of its own: the API server's loop. Stopped before the ledger on it
// is destroyed (as the ledger asks).
struct loop_thread {
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  void stop() {
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  ~loop_thread() { stop(); }
};

void add_funded_user(tollgate::asio::redis_ledger& ledger, const std::string& user, credits balance) {
  REQUIRE(ledger.blocking().add_user(user, balance).value());
  REQUIRE(ledger.blocking().add_credential(user, user).value());
}

// The conformance fixture: the async forms seen through awaiting_ledger; holds expire by waiting
// out a short TTL on Redis's clock.
struct async_fixture {
  static constexpr auto ttl = 1'500ms;
  loop_thread loop;
  tollgate::asio::redis_ledger redis;
  int users = 0;
  explicit async_fixture(const std::string& url) : redis(loop.io.get_executor(), options_for(url, ttl)) {}
  ~async_fixture() { loop.stop(); }

  std::string new_user(credits balance) {
    const std::string id = fmt::format("conformance-user-{}", ++users);
    add_funded_user(redis, id, balance);
    return id;
  }
  result<credits> available(const std::string& credential) { return redis.blocking().balance(credential); }
  void expire_holds() { std::this_thread::sleep_for(ttl + 100ms); }
  [[nodiscard]] bool allows_overage() const { return false; }
};

struct plain_fixture : async_fixture {
  using async_fixture::async_fixture;
  tollgate::testing::awaiting_ledger<tollgate::asio::redis_ledger> awaiting{redis};
  auto& ledger() { return awaiting; }
};

tollgate::durable_ledger_options quiet_outbox() {
  tollgate::durable_ledger_options o;
  o.log = tollgate::logger::silent();
  return o;
}

struct durable_fixture : async_fixture {
  using async_fixture::async_fixture;
  tollgate::durable_ledger<tollgate::asio::redis_ledger> durable{redis, quiet_outbox()};
  tollgate::testing::awaiting_ledger<tollgate::durable_ledger<tollgate::asio::redis_ledger>> awaiting{durable};
  auto& ledger() { return awaiting; }
};

// Counts answers and wakes the test when `expected` have come.
struct answers {
  std::mutex mutex;
  std::condition_variable changed;
  int count = 0;
  void one() {
    std::lock_guard guard(mutex);
    ++count;
    changed.notify_all();
  }
  bool wait_for(int expected, std::chrono::milliseconds limit) {
    std::unique_lock guard(mutex);
    return changed.wait_for(guard, limit, [&] { return count >= expected; });
  }
};

// After an outage: a lock, tried every 100 ms for 5 s (the breaker lets a probe through within its
// 100 ms, then reconnecting takes one call).
result<lock_grant> lock_once_back(tollgate::testing::awaiting_ledger<tollgate::asio::redis_ledger>& waiting, const std::string& user) {
  result<lock_grant> last = tollgate::ledger_error{ledger_errc::unavailable, "not tried"};
  for (int attempt = 0; attempt < 50; ++attempt) {
    last = waiting.lock(user, 1_cr, fmt::format("after-outage-{}", attempt));
    if (last) break;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

}  // namespace

static_assert(tollgate::async_ledger<tollgate::asio::redis_ledger>);
static_assert(tollgate::ledger<tollgate::asio::redis_ledger>);
static_assert(tollgate::async_ledger<tollgate::durable_ledger<tollgate::asio::redis_ledger>>);

TEST_CASE("asio::redis_ledger: the ledger conformance suite through the async forms, on one loop thread") {
  redis_server redis;
  plain_fixture f(redis.url());
  const auto report = tollgate::testing::check_ledger_conformance(f);
  CHECK_MESSAGE(report.ok(), report.text());
  CHECK(report.checks > 30);
  CHECK(f.awaiting.extra_completions() == 0);
  CHECK(f.awaiting.missing_completions() == 0);
  CHECK(f.redis.in_flight() == 0);
}

TEST_CASE("asio::redis_ledger: the conformance suite through durable_ledger's async forms over it") {
  redis_server redis;
  durable_fixture f(redis.url());
  const auto report = tollgate::testing::check_ledger_conformance(f);
  CHECK_MESSAGE(report.ok(), report.text());
  CHECK(f.awaiting.extra_completions() == 0);
  CHECK(f.awaiting.missing_completions() == 0);
  CHECK(f.durable.pending() == 0);
}

TEST_CASE("asio::redis_ledger: the same keys as redis_ledger: a lock taken by one settles through the other") {
  redis_server redis;
  loop_thread loop;
  const auto options = options_for(redis.url());
  tollgate::asio::redis_ledger async_ledger(loop.io.get_executor(), options);
  tollgate::redis_ledger blocking(options);
  add_funded_user(async_ledger, "alice", 10_cr);
  tollgate::testing::awaiting_ledger waiting{async_ledger};
  const auto by_async = waiting.lock("alice", 4_cr, "k1");
  REQUIRE(by_async);
  CHECK(by_async->lock_id.starts_with("rl_"));
  CHECK(blocking.settle(by_async->lock_id, 1_cr).value().charged == 1_cr);
  const auto by_blocking = blocking.lock("alice", 2_cr, "k2");
  REQUIRE(by_blocking);
  CHECK(waiting.release(by_blocking->lock_id).value().charged == 0_cr);
  CHECK(waiting.lock("alice", 4_cr, "k1").value().lock_id == by_async->lock_id);  // one idempotency key space
  CHECK(blocking.balance("alice").value() == 9_cr);
  loop.stop();
}

TEST_CASE("asio::redis_ledger: 2000 locks in flight from one loop thread, each settled; no credit created or lost") {
  redis_server redis;
  loop_thread loop;
  auto options = options_for(redis.url());
  const std::string prefix = options.key_prefix;
  std::optional<tollgate::asio::redis_ledger> ledger;
  ledger.emplace(loop.io.get_executor(), options, tollgate::asio::redis_async_options{.max_in_flight = 10'000});
  constexpr int users = 10, calls = 2'000;
  const credits start = 150_cr;
  for (int u = 0; u < users; ++u) add_funded_user(*ledger, fmt::format("user{}", u), start);

  std::atomic<int> granted{0}, refused{0}, settled{0}, failed{0}, off_loop{0};
  std::atomic<std::size_t> most_in_flight{0};
  answers done;
  const auto loop_id = loop.thread.get_id();
  // Every call is made on the loop thread and answered there: nothing else waits for Redis.
  boost::asio::post(loop.io, [&] {
    for (int i = 0; i < calls; ++i) {
      ledger->async_lock(fmt::format("user{}", i % users), 1_cr, fmt::format("key-{}", i), [&](result<lock_grant> grant) {
        if (std::this_thread::get_id() != loop_id) ++off_loop;
        if (!grant) {
          ++(grant.error().code == ledger_errc::insufficient_funds ? refused : failed);
          return done.one();
        }
        ++granted;
        ledger->async_settle(grant->lock_id, 0.25_cr, [&](result<settlement> s) {
          if (std::this_thread::get_id() != loop_id) ++off_loop;
          ++(s ? settled : failed);
          done.one();
        });
      });
    }
    most_in_flight = ledger->in_flight();
  });
  REQUIRE(done.wait_for(calls, 60s));
  MESSAGE("in flight at once: " << most_in_flight.load() << "; granted " << granted.load() << ", refused " << refused.load());
  CHECK(most_in_flight.load() == calls);  // all sent before the first answer: pipelined, not one at a time
  CHECK(failed == 0);
  CHECK(off_loop == 0);
  CHECK(granted == settled);
  CHECK(granted + refused == calls);
  CHECK(refused > 0);  // 200 locks of 1 per user, more than the 150 they start with while the first are held
  credits available_sum{};
  for (int u = 0; u < users; ++u) {
    const std::string user = fmt::format("user{}", u);
    CHECK(money_of(redis, prefix, user) == start);  // available + held + charged: conserved
    const auto b = ledger->blocking().balances(user).value();
    CHECK(b.held == 0_cr);
    available_sum += b.available;
  }
  CHECK(available_sum == start * users - 0.25_cr * settled.load());
  CHECK(ledger->in_flight() == 0);
  loop.stop();
}

TEST_CASE("asio::redis_ledger: past max_in_flight a lock is refused at once; a settle is never refused") {
  redis_server redis;
  loop_thread loop;
  auto options = options_for(redis.url());
  tollgate::asio::redis_ledger ledger(loop.io.get_executor(), options, {.max_in_flight = 4});
  add_funded_user(ledger, "alice", 100_cr);
  tollgate::testing::awaiting_ledger waiting{ledger};
  const auto first = waiting.lock("alice", 1_cr, "before");  // also caches alice's credential: one command a lock
  REQUIRE(first);

  redis.pause();  // what is sent now stays in flight
  answers done;
  std::atomic<int> granted{0};
  for (int i = 0; i < 4; ++i)
    ledger.async_lock("alice", 1_cr, fmt::format("held-{}", i), [&](result<lock_grant> g) {
      if (g) ++granted;
      done.one();
    });
  CHECK(ledger.in_flight() == 4);
  std::optional<result<lock_grant>> refused;
  ledger.async_lock("alice", 1_cr, "one-too-many", [&](result<lock_grant> g) { refused.emplace(std::move(g)); });
  REQUIRE(refused.has_value());  // answered before async_lock returned
  CHECK(refused->error().code == ledger_errc::unavailable);
  std::optional<result<settlement>> settled;
  answers settle_done;
  ledger.async_settle(first->lock_id, 0.5_cr, [&](result<settlement> s) {
    settled.emplace(std::move(s));
    settle_done.one();
  });
  CHECK(ledger.in_flight() == 5);  // over the cap: a settle ends a granted lock
  std::this_thread::sleep_for(200ms);
  redis.resume();
  REQUIRE(done.wait_for(4, 10s));
  REQUIRE(settle_done.wait_for(1, 10s));
  CHECK(granted == 4);
  REQUIRE(settled->has_value());
  CHECK((*settled)->charged == 0.5_cr);
  CHECK(ledger.blocking().balances("alice").value().held == 4_cr);
  loop.stop();
}

TEST_CASE("asio::redis_ledger: AUTH and SELECT from the URL before the first command; a wrong password is unauthorized") {
  redis_server redis({"--requirepass", "default-secret", "--user", "api", "on", ">api-secret", "~*", "&*", "+@all"});
  loop_thread loop;
  const auto options_at = [](const std::string& url) {
    auto o = options_for(url);
    o.key_prefix = "login";
    o.breaker_failures = 1000;
    return o;
  };
  tollgate::asio::redis_ledger in_three(loop.io.get_executor(), options_at(fmt::format("redis://api:api-secret@127.0.0.1:{}/3", redis.port())));
  tollgate::asio::redis_ledger in_zero(loop.io.get_executor(), options_at(fmt::format("redis://:default-secret@127.0.0.1:{}", redis.port())));
  tollgate::asio::redis_ledger refused(loop.io.get_executor(), options_at(fmt::format("redis://:wrong-secret@127.0.0.1:{}", redis.port())));
  add_funded_user(in_three, "bob", 7_cr);
  add_funded_user(in_zero, "carol", 5_cr);
  tollgate::testing::awaiting_ledger three{in_three}, zero{in_zero}, wrong{refused};
  const auto grant = three.lock("bob", 2_cr, "k");
  REQUIRE(grant);
  CHECK(three.settle(grant->lock_id, 1_cr).value().charged == 1_cr);
  CHECK(in_three.blocking().balance("bob").value() == 6_cr);
  CHECK(three.lock("carol", 1_cr, "k").error().code == ledger_errc::unknown_credential);  // carol is in database 0
  CHECK(zero.lock("bob", 1_cr, "k").error().code == ledger_errc::unknown_credential);     // bob in database 3
  const auto denied = wrong.lock("carol", 1_cr, "k");
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code == ledger_errc::unauthorized);
  CHECK(denied.error().message.find("wrong-secret") == std::string::npos);
  loop.stop();
}

TEST_CASE("asio::redis_ledger: Redis killed mid-flight: every call answers, never hangs; it reconnects after a restart") {
  redis_server redis({}, true);  // AOF, appendfsync always: what was acknowledged survives the kill
  loop_thread loop;
  auto options = options_for(redis.url());
  options.command_timeout = 500ms;
  const std::string prefix = options.key_prefix;
  tollgate::asio::redis_ledger ledger(loop.io.get_executor(), options);
  constexpr int users = 4, chains = 32, calls = 3'000;
  for (int u = 0; u < users; ++u) add_funded_user(ledger, fmt::format("user{}", u), 1'000_cr);

  // 32 chains of lock → settle → next lock on the loop thread, 3000 calls in all; Redis is killed
  // once a few hundred have been answered, so some are in flight when it dies.
  std::atomic<int> ok{0}, unavailable{0}, other{0}, started_calls{0};
  answers done;
  std::function<void()> next = [&] {
    const int i = started_calls++;
    if (i >= calls) return;
    ledger.async_lock(fmt::format("user{}", i % users), 1_cr, fmt::format("k{}", i), [&](result<lock_grant> g) {
      const auto count = [&](bool success, ledger_errc code) {
        if (success) ++ok;
        else ++(code == ledger_errc::unavailable ? unavailable : other);
        done.one();
        boost::asio::post(loop.io, next);  // not next(): a refused lock answers inline, and 3000 of those would recurse
      };
      if (!g) return count(false, g.error().code);
      ledger.async_settle(g->lock_id, 0.5_cr, [count](result<settlement> s) { count(s.has_value(), s ? ledger_errc::unavailable : s.error().code); });
    });
  };
  boost::asio::post(loop.io, [&] {
    for (int c = 0; c < chains; ++c) next();
  });
  REQUIRE(done.wait_for(300, 10s));
  redis.kill();
  const auto started = clock_type::now();
  REQUIRE(done.wait_for(calls, 20s));  // never a hang: each answered within its timeout at most
  MESSAGE("the rest answered in " << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started).count() << " ms: "
                                  << ok.load() << " ok, " << unavailable.load() << " unavailable");
  CHECK(other == 0);
  CHECK(ok >= 300);
  CHECK(unavailable > 0);

  // Down: answered at once with unavailable (connection refused, then the open breaker).
  tollgate::testing::awaiting_ledger waiting{ledger, 5s};
  const auto down = waiting.lock("user0", 1_cr, "while-down");
  REQUIRE_FALSE(down);
  CHECK(down.error().code == ledger_errc::unavailable);
  CHECK(waiting.missing_completions() == 0);

  redis.restart();
  const auto again = lock_once_back(waiting, "user0");
  REQUIRE(again);
  CHECK(waiting.release(again->lock_id));
  for (int u = 0; u < users; ++u) CHECK(money_of(redis, prefix, fmt::format("user{}", u)) == 1'000_cr);
  loop.stop();
}

TEST_CASE("asio::redis_ledger: a paused Redis (SIGSTOP) costs a call its command timeout, the loop nothing; resumed, it serves again") {
  redis_server redis;
  loop_thread loop;
  auto options = options_for(redis.url());
  options.command_timeout = 400ms;
  tollgate::asio::redis_ledger ledger(loop.io.get_executor(), options);
  add_funded_user(ledger, "alice", 10_cr);
  tollgate::testing::awaiting_ledger waiting{ledger, 10s};
  REQUIRE(waiting.lock("alice", 1_cr, "warm"));

  redis.pause();
  auto stalled = std::async(std::launch::async, [&] {
    const auto started = clock_type::now();
    auto r = waiting.lock("alice", 1_cr, "during-pause");
    return std::make_pair(std::move(r), clock_type::now() - started);
  });
  // Meanwhile the loop thread is free: a posted task runs at once.
  std::this_thread::sleep_for(100ms);
  std::promise<void> ran;
  const auto posted = clock_type::now();
  boost::asio::post(loop.io, [&] { ran.set_value(); });
  REQUIRE(ran.get_future().wait_for(1s) == std::future_status::ready);
  CHECK(clock_type::now() - posted < 200ms);
  auto [outcome, took] = stalled.get();
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == ledger_errc::unavailable);
  CHECK(took >= 350ms);
  CHECK(took < 3s);
  redis.resume();

  CHECK(lock_once_back(waiting, "alice"));
  CHECK(waiting.missing_completions() == 0);
  loop.stop();
}
