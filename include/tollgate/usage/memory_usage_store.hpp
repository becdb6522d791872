// SPDX-License-Identifier: MIT
// memory_usage_store: the usage_store concept in this process (one node), sharded by tenant.
#ifndef TOLLGATE_USAGE_MEMORY_USAGE_STORE_HPP
#define TOLLGATE_USAGE_MEMORY_USAGE_STORE_HPP

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/usage/usage_store.hpp>

namespace tollgate {

/// Bounds of a memory_usage_store.
struct memory_usage_store_options {
  /// How long an idempotency key is remembered: a retry later than this counts again.
  std::chrono::milliseconds key_ttl = std::chrono::hours(24);
  /// Keys remembered per shard, at most; past it the oldest is forgotten first.
  std::size_t max_keys_per_shard = 65'536;
  /// (tenant, limit) counters in use per shard, at most; a counter back at zero is dropped.
  std::size_t max_counters_per_shard = 65'536;
};

/// Usage counts in memory: for one API server (several servers need redis_usage_store, whose
/// counts they share). Sixteen shards, each a mutex over its tenants' counters and keys: a tenant
/// always lands in the same shard, so each operation is one critical section (atomic), and tenants
/// of different shards never wait for each other. Memory is bounded by the options.
///
///     tollgate::memory_usage_store store;
///     auto got = store.try_acquire("org-1", "deployments", 1, /*max=*/1, "create-42");   // granted
///     auto again = store.try_acquire("org-1", "deployments", 1, 1, "create-42");         // replayed
class memory_usage_store {
 public:
  using usage_store_concept = usage_store_t;

  explicit memory_usage_store(memory_usage_store_options options = {}) : options_(options) {}
  memory_usage_store(const memory_usage_store&) = delete;
  memory_usage_store& operator=(const memory_usage_store&) = delete;

  result<acquisition> try_acquire(std::string_view tenant, std::string_view limit, std::int64_t n, limit_value max, std::string_view key) {
    if (n < 0) return invalid_units(n);
    shard& s = shard_of(tenant);
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard guard(s.mutex);
    s.forget_expired(now);
    const std::string id = counter_id(tenant, limit);
    const std::string acquire_key = key_id('a', id, key);
    auto counter = s.counters.find(id);
    const std::int64_t used = counter == s.counters.end() ? 0 : counter->second;
    if (s.keys.contains(acquire_key)) return acquisition{true, true, used};
    std::int64_t after = 0;
    if (__builtin_add_overflow(used, n, &after)) return acquisition{false, false, used};  // past INT64_MAX: past any maximum
    if (!max.is_unlimited() && after > max.max()) return acquisition{false, false, used};
    if (counter == s.counters.end()) {
      if (n == 0) return acquisition{true, false, 0};  // nothing to count, nothing to undo
      if (s.counters.size() >= options_.max_counters_per_shard)
        return ledger_error{ledger_errc::unavailable, "the usage store is full (max_counters_per_shard)"};
      counter = s.counters.emplace(id, 0).first;
    }
    counter->second = after;
    s.remember(acquire_key, n, now + options_.key_ttl, options_.max_keys_per_shard);
    return acquisition{true, false, after};
  }

  result<usage_release> release(std::string_view tenant, std::string_view limit, std::int64_t n, std::string_view key) {
    if (n < 0) return invalid_units(n);
    shard& s = shard_of(tenant);
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard guard(s.mutex);
    s.forget_expired(now);
    const std::string id = counter_id(tenant, limit);
    const std::string release_key = key_id('r', id, key);
    if (s.keys.contains(release_key)) return usage_release{true, s.used(id)};
    const std::int64_t after = s.subtract(id, n);
    s.remember(release_key, n, now + options_.key_ttl, options_.max_keys_per_shard);
    return usage_release{false, after};
  }

  result<usage_release> cancel(std::string_view tenant, std::string_view limit, std::string_view key) {
    shard& s = shard_of(tenant);
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard guard(s.mutex);
    s.forget_expired(now);
    const std::string id = counter_id(tenant, limit);
    auto acquired = s.keys.find(key_id('a', id, key));
    if (acquired == s.keys.end()) return usage_release{true, s.used(id)};
    const std::int64_t units = acquired->second.units;
    s.keys.erase(acquired);  // forgotten, so a retry with this key counts afresh
    return usage_release{false, s.subtract(id, units)};
  }

  result<std::int64_t> usage(std::string_view tenant, std::string_view limit) {
    shard& s = shard_of(tenant);
    std::lock_guard guard(s.mutex);
    return s.used(counter_id(tenant, limit));
  }

 private:
  struct remembered {
    std::int64_t units = 0;
    std::chrono::steady_clock::time_point expires{};
  };
  struct shard {
    std::mutex mutex;
    std::map<std::string, std::int64_t, std::less<>> counters;
    std::map<std::string, remembered, std::less<>> keys;
    // Keys in the order they were made, which is their expiry order (one TTL for all).
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> order;

    std::int64_t used(const std::string& id) const {
      auto it = counters.find(id);
      return it == counters.end() ? 0 : it->second;
    }
    std::int64_t subtract(const std::string& id, std::int64_t n) {
      auto it = counters.find(id);
      if (it == counters.end()) return 0;
      it->second = it->second > n ? it->second - n : 0;  // both non-negative: no overflow
      if (it->second != 0) return it->second;
      counters.erase(it);
      return 0;
    }
    void remember(std::string key, std::int64_t units, std::chrono::steady_clock::time_point expires, std::size_t max_keys) {
      while (!order.empty() && (keys.size() >= max_keys || order.size() >= max_keys)) drop_oldest();
      order.emplace_back(expires, key);
      keys.insert_or_assign(std::move(key), remembered{units, expires});
    }
    void forget_expired(std::chrono::steady_clock::time_point now) {
      while (!order.empty() && order.front().first <= now) drop_oldest();
    }
    void drop_oldest() {
      auto it = keys.find(order.front().second);
      // A key cancelled and made again has a later entry of its own: only its own entry drops it.
      if (it != keys.end() && it->second.expires == order.front().first) keys.erase(it);
      order.pop_front();
    }
  };

  static ledger_error invalid_units(std::int64_t n) {
    return ledger_error{ledger_errc::invalid_amount, fmt::format("a number of units must not be negative (got {})", n)};
  }
  // Lengths first, so no tenant, limit or key can be made to collide with another's by its content.
  static std::string counter_id(std::string_view tenant, std::string_view limit) {
    return fmt::format("{}:{}{}:{}", tenant.size(), tenant, limit.size(), limit);
  }
  static std::string key_id(char kind, const std::string& counter, std::string_view key) {
    return fmt::format("{}{}|{}", kind, counter, key);
  }
  shard& shard_of(std::string_view tenant) { return shards_[std::hash<std::string_view>{}(tenant) % shards_.size()]; }

  memory_usage_store_options options_;
  std::array<shard, 16> shards_;
};
static_assert(usage_store<memory_usage_store>);

}  // namespace tollgate

#endif  // TOLLGATE_USAGE_MEMORY_USAGE_STORE_HPP
