// memory_usage_store: atomic acquire under contention, idempotency keys, cancel, release, bounds, overflow.
#include <tollgate/usage/memory_usage_store.hpp>
#include <tollgate/usage/usage_store.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

using tollgate::limit_value;
using tollgate::memory_usage_store;

static_assert(tollgate::usage_store<memory_usage_store>);
static_assert(tollgate::usage_store<tollgate::usage_store_ref>);
// Archetype: a type with the right members but no opt-in tag is not a usage store.
struct looks_like_a_store {
  tollgate::result<tollgate::acquisition> try_acquire(std::string_view, std::string_view, std::int64_t, limit_value, std::string_view);
  tollgate::result<tollgate::usage_release> release(std::string_view, std::string_view, std::int64_t, std::string_view);
  tollgate::result<tollgate::usage_release> cancel(std::string_view, std::string_view, std::string_view);
  tollgate::result<std::int64_t> usage(std::string_view, std::string_view);
};
static_assert(!tollgate::usage_store<looks_like_a_store>);

TEST_CASE("usage store: acquires up to the maximum and refuses past it") {
  memory_usage_store store;
  auto first = store.try_acquire("org-1", "deployments", 1, 1, "k1");
  REQUIRE(first);
  CHECK(*first == tollgate::acquisition{true, false, 1});
  auto second = store.try_acquire("org-1", "deployments", 1, 1, "k2");
  REQUIRE(second);
  CHECK(*second == tollgate::acquisition{false, false, 1});
  CHECK(*store.usage("org-1", "deployments") == 1);
  // Other tenants and other limits count apart.
  CHECK(store.try_acquire("org-2", "deployments", 1, 1, "k1")->granted);
  CHECK(store.try_acquire("org-1", "workers", 5, 5, "k1")->granted);
  CHECK(*store.usage("org-1", "workers") == 5);
  CHECK(*store.usage("nobody", "deployments") == 0);
  // Unlimited never refuses; a maximum of zero always does.
  CHECK(store.try_acquire("org-3", "deployments", 1000, tollgate::unlimited, "k")->granted);
  CHECK_FALSE(store.try_acquire("org-4", "deployments", 1, 0, "k")->granted);
}

TEST_CASE("usage store: a repeated idempotency key counts once, and answers granted") {
  memory_usage_store store;
  CHECK(store.try_acquire("org-1", "deployments", 1, 5, "create-42")->granted);
  auto again = store.try_acquire("org-1", "deployments", 1, 5, "create-42");
  REQUIRE(again);
  CHECK(again->granted);
  CHECK(again->replayed);
  CHECK(again->used == 1);
  CHECK(*store.usage("org-1", "deployments") == 1);
  // Even at the maximum, a replay of a granted key is granted (the first try was).
  memory_usage_store full;
  CHECK(full.try_acquire("t", "l", 1, 1, "k")->granted);
  CHECK(full.try_acquire("t", "l", 1, 1, "k")->replayed);
  // The same key string for another tenant is another key.
  CHECK_FALSE(full.try_acquire("u", "l", 1, 1, "k")->replayed);
}

TEST_CASE("usage store: release is idempotent by key, never below zero") {
  memory_usage_store store;
  CHECK(store.try_acquire("org-1", "deployments", 3, 5, "a")->granted);
  auto r1 = store.release("org-1", "deployments", 1, "delete-1");
  REQUIRE(r1);
  CHECK(*r1 == tollgate::usage_release{false, 2});
  auto r2 = store.release("org-1", "deployments", 1, "delete-1");
  REQUIRE(r2);
  CHECK(*r2 == tollgate::usage_release{true, 2});  // a retried delete releases once
  CHECK(store.release("org-1", "deployments", 10, "delete-2")->used == 0);
  CHECK(*store.usage("org-1", "deployments") == 0);
}

TEST_CASE("usage store: cancel undoes an acquisition and forgets its key") {
  memory_usage_store store;
  CHECK(store.try_acquire("org-1", "deployments", 1, 1, "create-1")->granted);
  auto undone = store.cancel("org-1", "deployments", "create-1");
  REQUIRE(undone);
  CHECK(*undone == tollgate::usage_release{false, 0});
  CHECK(store.cancel("org-1", "deployments", "create-1")->replayed);  // nothing left to undo
  CHECK(store.cancel("org-1", "deployments", "never-made")->replayed);
  // The key is forgotten: a retry counts afresh (the failed try made nothing).
  auto retry = store.try_acquire("org-1", "deployments", 1, 1, "create-1");
  REQUIRE(retry);
  CHECK(retry->granted);
  CHECK_FALSE(retry->replayed);
  CHECK(*store.usage("org-1", "deployments") == 1);
}

TEST_CASE("usage store: negative units are refused; sums past INT64_MAX are refused, not wrapped") {
  memory_usage_store store;
  auto negative = store.try_acquire("t", "l", -1, 5, "k");
  REQUIRE_FALSE(negative);
  CHECK(negative.error().code == tollgate::ledger_errc::invalid_amount);
  CHECK_FALSE(store.release("t", "l", -1, "k"));
  CHECK(store.try_acquire("t", "l", INT64_MAX, tollgate::unlimited, "big")->granted);
  auto past = store.try_acquire("t", "l", 1, tollgate::unlimited, "one-more");
  REQUIRE(past);
  CHECK_FALSE(past->granted);
  CHECK(*store.usage("t", "l") == INT64_MAX);
}

TEST_CASE("usage store: many threads racing for the last units get exactly the limit") {
  memory_usage_store store;
  constexpr int threads = 16;
  constexpr int tries_each = 50;
  constexpr std::int64_t max = 37;
  std::atomic<int> granted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < tries_each; ++i) {
        auto a = store.try_acquire("org-race", "deployments", 1, max, fmt::format("t{}-{}", t, i));
        if (a && a->granted) granted.fetch_add(1);
      }
    });
  go = true;
  for (auto& th : pool) th.join();
  CHECK(granted.load() == max);
  CHECK(*store.usage("org-race", "deployments") == max);
}

TEST_CASE("usage store: the same key from many threads at once counts once") {
  memory_usage_store store;
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

TEST_CASE("usage store: memory is bounded (keys forgotten oldest first, counters capped)") {
  tollgate::memory_usage_store_options o;
  o.max_keys_per_shard = 4;
  o.max_counters_per_shard = 2;
  memory_usage_store store(o);
  for (int i = 0; i < 10; ++i) CHECK(store.try_acquire("t", "l", 1, tollgate::unlimited, fmt::format("k{}", i))->granted);
  // k0 was forgotten (only 4 keys are kept): replaying it counts again, k9 is still known.
  CHECK_FALSE(store.try_acquire("t", "l", 1, tollgate::unlimited, "k0")->replayed);
  CHECK(store.try_acquire("t", "l", 1, tollgate::unlimited, "k9")->replayed);
  // Counters: past the cap a new (tenant, limit) is refused as unavailable, never grown without bound.
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    auto a = store.try_acquire(fmt::format("tenant-{}", i), "l", 1, 5, "k");
    if (!a) {
      CHECK(a.error().code == tollgate::ledger_errc::unavailable);
      ++refused;
    }
  }
  CHECK(refused > 0);
}

TEST_CASE("usage store: keys expire after key_ttl") {
  tollgate::memory_usage_store_options o;
  o.key_ttl = std::chrono::milliseconds(20);
  memory_usage_store store(o);
  CHECK(store.try_acquire("t", "l", 1, 10, "k")->granted);
  CHECK(store.try_acquire("t", "l", 1, 10, "k")->replayed);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  auto later = store.try_acquire("t", "l", 1, 10, "k");
  CHECK_FALSE(later->replayed);
  CHECK(*store.usage("t", "l") == 2);
}
