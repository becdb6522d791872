// SPDX-License-Identifier: MIT
// cached_plan_lookup: a tenant's plan from your callable (a database query), behind a thread-safe TTL cache.
#ifndef TOLLGATE_PLANS_CACHED_PLAN_LOOKUP_HPP
#define TOLLGATE_PLANS_CACHED_PLAN_LOOKUP_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/http/request.hpp>
#include <tollgate/metrics/registry.hpp>
#include <tollgate/plans/plan_resolver.hpp>

namespace tollgate {

/// Resolves a tenant's plan by calling `lookup(tenant)` → the plan's name, or std::nullopt for an
/// unknown tenant, and caches each answer (both kinds) for `ttl` (5 minutes by default).
/// Concurrent requests for the same uncached tenant share one call; a call that throws is not cached
/// (the request gets a 503 and the next one retries). Copies share the cache.
///
///     tollgate::cached_plan_lookup plans{[&db](std::string_view tenant) { return db.plan_of(tenant); }};
///     plans.invalidate("org-42");   // e.g. from a billing provider's webhook
class cached_plan_lookup {
 public:
  using clock = std::chrono::steady_clock;
  using lookup_function = std::function<std::optional<std::string>(std::string_view tenant)>;
  /// The clock, injectable for tests.
  using now_function = std::function<clock::time_point()>;

  explicit cached_plan_lookup(lookup_function lookup, clock::duration ttl = std::chrono::minutes(5), now_function now = {})
      : state_(std::make_shared<state>(std::move(lookup), ttl, now ? std::move(now) : now_function(&clock::now))) {
    if (!state_->lookup) throw std::invalid_argument("tollgate::cached_plan_lookup: the lookup function is empty");
    if (ttl < clock::duration::zero()) throw std::invalid_argument("tollgate::cached_plan_lookup: the ttl must not be negative");
    // "Forever" must not overflow now() + ttl into the past: a century is forever enough.
    state_->ttl = std::min<clock::duration>(ttl, std::chrono::hours(24 * 365 * 100));
  }

  [[nodiscard]] plan_resolution resolve(const request_ref& /*request*/, std::optional<std::string_view> tenant) const {
    if (!tenant) return plan_resolution::needs_tenant();
    try {
      auto plan = plan_of(*tenant);
      if (!plan) return plan_resolution::no_such_tenant();
      return plan_resolution::named(std::move(*plan));
    } catch (const std::exception& e) {
      return plan_resolution::failure(e.what());
    } catch (...) {
      return plan_resolution::failure("the plan lookup threw an exception that is not a std::exception");
    }
  }

  /// The tenant's plan name (cached), std::nullopt for an unknown tenant; rethrows what `lookup` threw.
  [[nodiscard]] std::optional<std::string> plan_of(std::string_view tenant) const {
    std::shared_future<std::optional<std::string>> answer;
    std::promise<std::optional<std::string>> mine;
    bool fetch = false;
    std::uint64_t ticket = 0;  // tells our entry from one a later fetch put in its place
    clock::duration wait_limit{};
    {
      std::lock_guard lock(state_->mutex);
      wait_limit = state_->wait_limit;
      const auto now = state_->now();
      auto it = state_->entries.find(tenant);
      if (it != state_->entries.end() && (!it->second.expires || now < *it->second.expires)) {
        answer = it->second.answer;  // fresh, or being fetched by another thread
        state_->count(state_->hits);
      } else {
        state_->count(state_->misses);
        state_->sweep(now);
        answer = mine.get_future().share();
        ticket = ++state_->tickets;
        state_->entries.insert_or_assign(std::string(tenant), entry{answer, std::nullopt, ticket});
        fetch = true;
      }
    }
    if (fetch) {
      try {
        auto plan = state_->lookup(tenant);
        std::lock_guard lock(state_->mutex);
        if (auto it = state_->entries.find(tenant); it != state_->entries.end() && it->second.ticket == ticket)
          it->second.expires = state_->now() + state_->ttl;
        mine.set_value(std::move(plan));
      } catch (...) {
        state_->count(state_->errors);
        {
          std::lock_guard lock(state_->mutex);
          if (auto it = state_->entries.find(tenant); it != state_->entries.end() && it->second.ticket == ticket)
            state_->entries.erase(it);
        }
        mine.set_exception(std::current_exception());
      }
    }
    // Another request is fetching this tenant: wait for it, but not forever on a hung lookup.
    if (!fetch && answer.wait_for(wait_limit) != std::future_status::ready)
      throw std::runtime_error("the plan lookup for this tenant did not answer in time");
    return answer.get();
  }

  /// How long a request waits for another request's lookup of the same tenant (default 10 s);
  /// past it, the request fails (503 from the endpoint) instead of holding a worker thread.
  void set_wait_limit(clock::duration limit) const {
    std::lock_guard lock(state_->mutex);
    state_->wait_limit = limit;
  }

  /// Forgets the tenant's cached plan (after a plan change); the next request looks it up again.
  void invalidate(std::string_view tenant) const {
    std::lock_guard lock(state_->mutex);
    if (auto it = state_->entries.find(tenant); it != state_->entries.end()) state_->entries.erase(it);
  }
  /// Forgets every cached plan.
  void clear() const {
    std::lock_guard lock(state_->mutex);
    state_->entries.clear();
  }
  /// How many tenants are cached or being looked up.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.size();
  }
  [[nodiscard]] clock::duration ttl() const noexcept { return state_->ttl; }

  /// Counts lookups in `tollgate_plan_cache_lookups_total{result="hit"|"miss"}` and lookup
  /// functions that threw in `tollgate_plan_resolver_errors_total` (README "Metrics"). Copies share it.
  void export_metrics(metrics::registry& r) const {
    auto& lookups = r.counter("tollgate_plan_cache_lookups_total", "Plan cache lookups by result (a miss calls the lookup function).",
                              {"result"});
    state_->hits.store(&lookups.with({"hit"}), std::memory_order_relaxed);
    state_->misses.store(&lookups.with({"miss"}), std::memory_order_relaxed);
    state_->errors.store(&r.counter("tollgate_plan_resolver_errors_total", "Plan lookup functions that threw (the request gets a 503).")
                              .with({}),
                         std::memory_order_relaxed);
  }

 private:
  struct entry {
    std::shared_future<std::optional<std::string>> answer;
    std::optional<clock::time_point> expires;  // std::nullopt while the lookup runs
    std::uint64_t ticket = 0;
  };
  struct state {
    state(lookup_function l, clock::duration t, now_function n) : lookup(std::move(l)), ttl(t), now(std::move(n)) {}

    // Drops expired answers once the map has grown, so tenants seen once do not pile up forever;
    // past `max_entries` (a flood of made-up tenant ids) every finished answer goes.
    void sweep(clock::time_point at) {
      if (entries.size() < sweep_at) return;
      std::erase_if(entries, [&](const auto& kv) { return kv.second.expires && at >= *kv.second.expires; });
      if (entries.size() >= max_entries) std::erase_if(entries, [](const auto& kv) { return kv.second.expires.has_value(); });
      sweep_at = std::min(max_entries, std::max<std::size_t>(1024, entries.size() * 2));
    }

    static constexpr std::size_t max_entries = 100'000;

    lookup_function lookup;
    clock::duration ttl;
    clock::duration wait_limit = std::chrono::seconds(10);
    now_function now;
    std::mutex mutex;
    std::map<std::string, entry, std::less<>> entries;
    std::size_t sweep_at = 1024;
    std::uint64_t tickets = 0;
    std::atomic<metrics::counter*> hits{nullptr}, misses{nullptr}, errors{nullptr};  // set by export_metrics

    static void count(const std::atomic<metrics::counter*>& which) noexcept {
      if (auto* c = which.load(std::memory_order_relaxed)) c->inc();
    }
  };

  std::shared_ptr<state> state_;
};
static_assert(plan_resolver<cached_plan_lookup>);

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_CACHED_PLAN_LOOKUP_HPP
