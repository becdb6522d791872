// cached_plan_lookup: a user callable behind a TTL cache, safe under concurrent requests.
#include <tollgate/http/request.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <fmt/format.h>

namespace {
using namespace std::chrono_literals;
using kind = tollgate::plan_resolution::kind;

// A clock the test moves by hand.
struct manual_clock {
  std::atomic<std::int64_t> ns{0};
  [[nodiscard]] tollgate::cached_plan_lookup::now_function function() {
    return [this] { return tollgate::cached_plan_lookup::clock::time_point(std::chrono::nanoseconds(ns.load())); };
  }
  void advance(std::chrono::nanoseconds d) { ns += d.count(); }
};

// A fake "database": counts queries, answers from a map that the test may change.
struct fake_db {
  std::mutex mutex;
  std::map<std::string, std::string, std::less<>> plans{{"org-1", "growth"}, {"org-2", "enterprise"}};
  std::atomic<int> queries{0};
  std::optional<std::string> plan_of(std::string_view tenant) {
    ++queries;
    std::lock_guard lock(mutex);
    auto it = plans.find(tenant);
    if (it == plans.end()) return std::nullopt;
    return it->second;
  }
};
}  // namespace

TEST_CASE("cached_plan_lookup: default TTL is 5 minutes") {
  tollgate::cached_plan_lookup lookup{[](std::string_view) { return std::optional<std::string>("free"); }};
  CHECK(lookup.ttl() == std::chrono::minutes(5));
}

TEST_CASE("cached_plan_lookup: answers from the callable, then from the cache until the TTL passes") {
  fake_db db;
  manual_clock clock;
  tollgate::cached_plan_lookup lookup{[&](std::string_view t) { return db.plan_of(t); }, 5min, clock.function()};
  tollgate::basic_request r;

  auto first = lookup.resolve(r, std::string_view("org-1"));
  CHECK(first.outcome == kind::plan);
  CHECK(first.plan == "growth");
  CHECK(first.header.empty());  // a server-side answer, not the caller's header
  CHECK(db.queries == 1);

  { std::lock_guard lock(db.mutex); db.plans["org-1"] = "enterprise"; }  // plan changed in the database
  clock.advance(4min + 59s);
  CHECK(lookup.resolve(r, std::string_view("org-1")).plan == "growth");  // still cached
  CHECK(db.queries == 1);

  clock.advance(1s);  // exactly the TTL: expired
  CHECK(lookup.resolve(r, std::string_view("org-1")).plan == "enterprise");
  CHECK(db.queries == 2);
}

TEST_CASE("cached_plan_lookup: unknown tenants are cached too, and invalidate forces a new query") {
  fake_db db;
  manual_clock clock;
  tollgate::cached_plan_lookup lookup{[&](std::string_view t) { return db.plan_of(t); }, 1min, clock.function()};
  tollgate::basic_request r;
  CHECK(lookup.resolve(r, std::string_view("org-new")).outcome == kind::unknown_tenant);
  CHECK(lookup.resolve(r, std::string_view("org-new")).outcome == kind::unknown_tenant);
  CHECK(db.queries == 1);
  { std::lock_guard lock(db.mutex); db.plans["org-new"] = "free"; }
  lookup.invalidate("org-new");
  CHECK(lookup.resolve(r, std::string_view("org-new")).plan == "free");
  CHECK(db.queries == 2);
  CHECK(lookup.size() == 1);
  lookup.clear();
  CHECK(lookup.size() == 0);
}

TEST_CASE("cached_plan_lookup: without a tenant it does not query at all") {
  fake_db db;
  tollgate::cached_plan_lookup lookup{[&](std::string_view t) { return db.plan_of(t); }};
  tollgate::basic_request r;
  CHECK(lookup.resolve(r, std::nullopt).outcome == kind::not_applicable);
  CHECK(db.queries == 0);
}

TEST_CASE("cached_plan_lookup: a failing lookup is reported and not cached") {
  std::atomic<int> calls{0};
  tollgate::cached_plan_lookup lookup{[&](std::string_view) -> std::optional<std::string> {
    if (++calls == 1) throw std::runtime_error("database unavailable");
    return "growth";
  }};
  tollgate::basic_request r;
  const auto failed = lookup.resolve(r, std::string_view("org-1"));
  CHECK(failed.outcome == kind::failed);
  CHECK(failed.message == "database unavailable");
  CHECK(lookup.resolve(r, std::string_view("org-1")).plan == "growth");  // retried
  CHECK(calls == 2);
}

TEST_CASE("cached_plan_lookup: concurrent requests for one tenant share a single query") {
  std::atomic<int> queries{0};
  std::atomic<bool> release{false};
  tollgate::cached_plan_lookup lookup{[&](std::string_view tenant) -> std::optional<std::string> {
    ++queries;
    while (!release) std::this_thread::yield();  // hold the query open while the others arrive
    return tenant == "org-1" ? "growth" : "free";
  }};
  constexpr int thread_count = 8;
  std::vector<std::string> answers(thread_count);
  std::vector<std::thread> threads;
  std::atomic<int> started{0};
  for (int i = 0; i < thread_count; ++i) {
    threads.emplace_back([&, i] {
      ++started;
      tollgate::basic_request r;
      answers[static_cast<std::size_t>(i)] = lookup.resolve(r, std::string_view("org-1")).plan;
    });
  }
  while (started < thread_count) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // let every thread reach the cache
  release = true;
  for (auto& t : threads) t.join();
  CHECK(queries == 1);
  for (const auto& a : answers) CHECK(a == "growth");
}

TEST_CASE("cached_plan_lookup: many tenants from many threads, expiring under a moving clock") {
  fake_db db;
  { std::lock_guard lock(db.mutex); for (int i = 0; i < 20; ++i) db.plans[fmt::format("t{}", i)] = (i % 2) ? "growth" : "free"; }
  manual_clock clock;
  tollgate::cached_plan_lookup lookup{[&](std::string_view t) { return db.plan_of(t); }, 10s, clock.function()};
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      tollgate::basic_request r;
      for (int i = 0; i < 400; ++i) {
        const int n = (i * 7 + t) % 20;
        const auto name = fmt::format("t{}", n);
        const auto got = lookup.resolve(r, std::string_view(name));
        if (got.plan != ((n % 2) ? "growth" : "free")) wrong = true;
        if (t == 0 && i % 50 == 0) clock.advance(11s);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK_FALSE(wrong.load());
  CHECK(db.queries >= 20);         // every tenant was queried at least once
  CHECK(db.queries < 4 * 400);     // and the cache answered most requests
}

TEST_CASE("cached_plan_lookup: copies share one cache") {
  std::atomic<int> queries{0};
  tollgate::cached_plan_lookup a{[&](std::string_view) { ++queries; return std::optional<std::string>("free"); }};
  const auto b = a;
  CHECK(a.plan_of("org") == "free");
  CHECK(b.plan_of("org") == "free");
  CHECK(queries == 1);
}

TEST_CASE("cached_plan_lookup: an empty callable is refused at construction") {
  CHECK_THROWS_AS(tollgate::cached_plan_lookup{tollgate::cached_plan_lookup::lookup_function{}}, std::invalid_argument);
}

TEST_CASE("cached_plan_lookup: a request waiting on a hung lookup gives up after the wait limit") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  tollgate::cached_plan_lookup plans{[&](std::string_view) -> std::optional<std::string> {
    ++calls;
    released.wait();  // the database hangs
    return std::string("growth");
  }};
  plans.set_wait_limit(std::chrono::milliseconds(50));
  std::thread fetcher([&] { CHECK(plans.plan_of("org-slow") == "growth"); });
  while (calls == 0) std::this_thread::yield();
  CHECK_THROWS_WITH_AS((void)plans.plan_of("org-slow"), "the plan lookup for this tenant did not answer in time", std::runtime_error);
  release.set_value();
  fetcher.join();
  CHECK(plans.plan_of("org-slow") == "growth");  // cached once the lookup answered
  CHECK(calls == 1);
}
