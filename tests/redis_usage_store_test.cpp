// redis_usage_store against a real redis-server: one Lua script per call, so racing API servers never pass the maximum.
#include <tollgate/adapters/httplib.hpp>
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/plans.hpp>
#include <tollgate/usage/limited.hpp>
#include <tollgate/usage/redis_usage_store.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "support/http_server.hpp"
#include "support/redis_server.hpp"

namespace {

using tollgate::redis_usage_store;
using tollgate::testing::redis_server;

int usage_prefix_counter = 0;

tollgate::redis_usage_store_options usage_options_for(const std::string& url) {
  tollgate::redis_usage_store_options o;
  o.url = url;
  o.key_prefix = fmt::format("usage{}", ++usage_prefix_counter);  // every store of the run on its own keys
  o.command_timeout = std::chrono::milliseconds(2'000);
  return o;
}

}  // namespace

static_assert(tollgate::usage_store<redis_usage_store>);

TEST_CASE("redis_usage_store: acquire, refuse at the maximum, replay a key, release once, cancel") {
  redis_server redis;
  redis_usage_store store(usage_options_for(redis.url()));
  CHECK(store.health());
  auto first = store.try_acquire("org-1", "deployments", 1, 1, "create-1");
  REQUIRE(first);
  CHECK(*first == tollgate::acquisition{true, false, 1});
  auto over = store.try_acquire("org-1", "deployments", 1, 1, "create-2");
  REQUIRE(over);
  CHECK(*over == tollgate::acquisition{false, false, 1});
  auto replay = store.try_acquire("org-1", "deployments", 1, 1, "create-1");
  REQUIRE(replay);
  CHECK(*replay == tollgate::acquisition{true, true, 1});
  CHECK(*store.usage("org-1", "deployments") == 1);
  CHECK(*store.usage("org-1", "workers") == 0);
  CHECK(*store.usage("nobody", "deployments") == 0);

  // cancel undoes the acquisition and forgets its key; a second cancel is a no-op.
  CHECK(*store.cancel("org-1", "deployments", "create-1") == tollgate::usage_release{false, 0});
  CHECK(store.cancel("org-1", "deployments", "create-1")->replayed);
  CHECK(store.try_acquire("org-1", "deployments", 1, 1, "create-1")->replayed == false);

  // release: idempotent by key, never below zero.
  CHECK(store.try_acquire("org-1", "workers", 4, tollgate::unlimited, "w")->granted);
  CHECK(*store.release("org-1", "workers", 1, "del-1") == tollgate::usage_release{false, 3});
  CHECK(*store.release("org-1", "workers", 1, "del-1") == tollgate::usage_release{true, 3});
  CHECK(store.release("org-1", "workers", 99, "del-2")->used == 0);
  CHECK(*store.usage("org-1", "workers") == 0);

  // Units outside [0, 2^53) are refused before Redis is asked.
  auto negative = store.try_acquire("org-1", "deployments", -1, 5, "n");
  REQUIRE_FALSE(negative);
  CHECK(negative.error().code == tollgate::ledger_errc::invalid_amount);
  CHECK_FALSE(store.try_acquire("org-1", "deployments", redis_usage_store::max_units + 1, tollgate::unlimited, "big"));
}

TEST_CASE("redis_usage_store: tenant ids with braces, colons or any byte stay apart") {
  redis_server redis;
  redis_usage_store store(usage_options_for(redis.url()));
  CHECK(store.try_acquire("}{x", "deployments", 1, 1, "k")->granted);
  CHECK(store.try_acquire("a:b", "deployments", 1, 1, "k")->granted);
  CHECK(store.try_acquire(std::string("a\0b", 3), "deployments", 1, 1, "k")->granted);
  CHECK(*store.usage("}{x", "deployments") == 1);
  CHECK(*store.usage("a", "deployments") == 0);
}

TEST_CASE("redis_usage_store: two API servers racing from many threads for the last units get exactly the limit") {
  redis_server redis;
  const auto options = usage_options_for(redis.url());
  redis_usage_store server_a(options), server_b(options);  // two processes' worth of connections on one Redis
  constexpr int threads = 12;
  constexpr int tries_each = 20;
  constexpr std::int64_t max = 23;
  std::atomic<int> granted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      redis_usage_store& store = t % 2 == 0 ? server_a : server_b;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < tries_each; ++i) {
        auto a = store.try_acquire("org-race", "deployments", 1, max, fmt::format("t{}-{}", t, i));
        if (a && a->granted) granted.fetch_add(1);
      }
    });
  go = true;
  for (auto& th : pool) th.join();
  CHECK(granted.load() == max);
  CHECK(*server_a.usage("org-race", "deployments") == max);
  CHECK(*server_b.usage("org-race", "deployments") == max);
}

TEST_CASE("redis_usage_store: one key sent from many threads at once counts once") {
  redis_server redis;
  redis_usage_store store(usage_options_for(redis.url()));
  std::atomic<int> fresh{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t)
    pool.emplace_back([&] {
      auto a = store.try_acquire("org-1", "deployments", 1, 100, "the-one-key");
      if (a && a->granted && !a->replayed) fresh.fetch_add(1);
    });
  for (auto& th : pool) th.join();
  CHECK(fresh.load() == 1);
  CHECK(*store.usage("org-1", "deployments") == 1);
}

TEST_CASE("redis_usage_store: idempotency keys expire in Redis after key_ttl; Redis down is unavailable") {
  redis_server redis;
  auto options = usage_options_for(redis.url());
  options.key_ttl = std::chrono::milliseconds(50);
  options.command_timeout = std::chrono::milliseconds(300);
  options.connect_timeout = std::chrono::milliseconds(300);
  redis_usage_store store(options);
  CHECK(store.try_acquire("t", "l", 1, 10, "k")->granted);
  CHECK(store.try_acquire("t", "l", 1, 10, "k")->replayed);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK_FALSE(store.try_acquire("t", "l", 1, 10, "k")->replayed);
  CHECK(*store.usage("t", "l") == 2);

  redis.kill();
  auto down = store.try_acquire("t", "l", 1, 10, "k2");
  REQUIRE_FALSE(down);
  CHECK(down.error().code == tollgate::ledger_errc::unavailable);
  CHECK_FALSE(store.health());
}

TEST_CASE("redis_usage_store: a key prefix with braces or globs is refused") {
  auto options = usage_options_for("redis://127.0.0.1:1");
  options.key_prefix = "bad{prefix}";
  CHECK_THROWS_AS(redis_usage_store{options}, tollgate::redis::url_error);
}

TEST_CASE("redis_usage_store: two API servers over loopback HTTP share one count; creates racing on both get exactly the limit") {
  redis_server redis;
  const auto options = usage_options_for(redis.url());
  tollgate::tenant_limits<> plans;  // default_plans: growth allows 5 deployments
  struct api_server {
    explicit api_server(const tollgate::redis_usage_store_options& o, const tollgate::tenant_limits<>& plans) : store(o) {
      tollgate::tune(http.server);
      tollgate::limited_config config;
      config.log = tollgate::logger::silent();
      http.server.Post("/deployments", tollgate::limited<"deployments", tollgate::from_header<"tenant-id">>{store, plans,
          [](const httplib::Request&, httplib::Response& res) { res.status = 201; }, config});
      http.start();
    }
    redis_usage_store store;
    tollgate::testing::http_server http;
  };
  api_server a(options, plans), b(options, plans);
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 20; ++i)
    clients.emplace_back([&, i] {
      auto c = (i % 2 == 0 ? a : b).http.client();
      auto r = c.Post("/deployments", {{"tenant-id", "org-shared"}, {"x-plan-type", "growth"}}, "", "application/json");
      if (r && r->status == 201) ++created;
      else if (r && r->status == 403) ++refused;
    });
  for (auto& t : clients) t.join();
  CHECK(created.load() == 5);
  CHECK(refused.load() == 15);
  CHECK(*a.store.usage("org-shared", "deployments") == 5);
}
