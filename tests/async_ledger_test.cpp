// The async ledger concept, memory_ledger's inline completion and offloading_ledger's bounded queue.
// (Their conformance — every requirement of the ledger concept through the async forms — runs in
// ledger_conformance_test.cpp through testing::awaiting_ledger.)
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>

using namespace tollgate::literals;
using tollgate::ledger_errc;
using tollgate::lock_grant;
using tollgate::result;
using tollgate::settlement;

namespace {

// A blocking ledger whose calls wait at a gate the test opens: a slow ledger on demand.
struct gated_ledger {
  using ledger_concept = tollgate::ledger_t;
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int waiting = 0;
  std::atomic<int> calls{0};
  bool throw_instead = false;

  result<lock_grant> lock(std::string_view credential, tollgate::credits amount, std::string_view) {
    pass();
    return lock_grant{fmt::format("lk-{}", credential), amount};
  }
  result<settlement> settle(std::string_view, tollgate::credits cost) {
    pass();
    return settlement{cost};
  }
  result<settlement> release(std::string_view id) { return settle(id, {}); }
  bool health() { return true; }

  void pass() {
    ++calls;
    std::unique_lock guard(mutex);
    ++waiting;
    changed.notify_all();
    changed.wait(guard, [this] { return open; });
    --waiting;
    if (throw_instead) throw std::runtime_error("connection reset");
  }
  void wait_for_waiting(int n) {
    std::unique_lock guard(mutex);
    REQUIRE(changed.wait_for(guard, std::chrono::seconds(10), [&] { return waiting == n; }));
  }
  void let_through() {
    {
      std::lock_guard guard(mutex);
      open = true;
    }
    changed.notify_all();
  }
};

// Counts every completion, by index, so "exactly once" can be checked.
struct completions {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int> times_called;
  std::vector<std::optional<result<lock_grant>>> results;
  std::vector<std::thread::id> threads;

  explicit completions(std::size_t n) : times_called(n, 0), results(n), threads(n) {}
  auto handler(std::size_t i) {
    return [this, i](result<lock_grant> r) {
      std::lock_guard guard(mutex);
      ++times_called[i];
      results[i].emplace(std::move(r));
      threads[i] = std::this_thread::get_id();
      changed.notify_all();
    };
  }
  void wait_all() {
    std::unique_lock guard(mutex);
    REQUIRE(changed.wait_for(guard, std::chrono::seconds(10), [&] {
      for (int t : times_called)
        if (t == 0) return false;
      return true;
    }));
  }
};

}  // namespace

static_assert(tollgate::async_ledger<tollgate::memory_ledger>);
static_assert(tollgate::ledger<tollgate::memory_ledger>);
static_assert(tollgate::async_ledger<tollgate::offloading_ledger<tollgate::memory_ledger>>);
static_assert(tollgate::ledger<tollgate::offloading_ledger<tollgate::memory_ledger>>);
static_assert(!tollgate::async_ledger<gated_ledger>, "a blocking ledger is not async until offloaded");

TEST_CASE("memory_ledger: the async forms complete inline, on the caller's thread, with move-only handlers") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("k", "u");
  std::optional<result<lock_grant>> granted;
  auto token = std::make_unique<int>(7);  // a move-only capture
  ledger.async_lock("k", 4_cr, "key-1", [&granted, token = std::move(token)](result<lock_grant> r) {
    CHECK(*token == 7);
    granted.emplace(std::move(r));
  });
  REQUIRE(granted.has_value());  // before async_lock returned
  REQUIRE(*granted);
  std::optional<result<settlement>> settled;
  ledger.async_settle((*granted)->lock_id, 1.5_cr, [&](result<settlement> r) { settled.emplace(std::move(r)); });
  REQUIRE(settled.has_value());
  CHECK((*settled)->charged == 1.5_cr);
  CHECK(ledger.balance("u") == 8.5_cr);

  std::optional<result<lock_grant>> refused;
  ledger.async_lock("k", 100_cr, "key-2", [&](result<lock_grant> r) { refused.emplace(std::move(r)); });
  REQUIRE(refused.has_value());
  CHECK(refused->error().code == ledger_errc::insufficient_funds);
  std::optional<result<settlement>> released;
  ledger.async_lock("k", 2_cr, "key-3", [&](result<lock_grant> r) { granted.emplace(std::move(r)); });
  ledger.async_release((*granted)->lock_id, [&](result<settlement> r) { released.emplace(std::move(r)); });
  REQUIRE(released.has_value());
  CHECK((*released)->charged == 0_cr);
  CHECK(ledger.balance("u") == 8.5_cr);
}

TEST_CASE("offloading_ledger: a full queue answers unavailable at once, memory stays bounded, every handler runs once") {
  gated_ledger slow;
  constexpr std::size_t workers = 2, capacity = 3, calls = 9;
  completions done(calls);
  {
    tollgate::offloading_ledger offloaded(slow, {.threads = workers, .queue_capacity = capacity});
    for (std::size_t i = 0; i < workers; ++i) offloaded.async_lock(fmt::format("c{}", i), 1_cr, "k", done.handler(i));
    slow.wait_for_waiting(static_cast<int>(workers));  // both workers are stuck in the ledger
    const auto caller = std::this_thread::get_id();
    for (std::size_t i = workers; i < calls; ++i) offloaded.async_lock(fmt::format("c{}", i), 1_cr, "k", done.handler(i));
    CHECK(offloaded.queued() == capacity);
    // The calls that found the queue full completed already, on the caller's thread, with unavailable.
    for (std::size_t i = workers + capacity; i < calls; ++i) {
      CAPTURE(i);
      std::lock_guard guard(done.mutex);
      REQUIRE(done.times_called[i] == 1);
      CHECK(done.results[i]->error().code == ledger_errc::unavailable);
      CHECK(done.results[i]->error().message.find("queue full") != std::string::npos);
      CHECK(done.threads[i] == caller);
    }
    slow.let_through();
    done.wait_all();
    for (std::size_t i = 0; i < workers + capacity; ++i) {
      CAPTURE(i);
      std::lock_guard guard(done.mutex);
      REQUIRE(*done.results[i]);
      CHECK((*done.results[i])->lock_id == fmt::format("lk-c{}", i));
      CHECK(done.threads[i] != caller);  // completed on a worker
    }
  }
  CHECK(slow.calls == static_cast<int>(workers + capacity));  // the refused calls never reached the ledger
  for (int t : done.times_called) CHECK(t == 1);
}

TEST_CASE("offloading_ledger: destruction refuses waiting locks at once, runs waiting settles, drops no handler") {
  gated_ledger slow;
  completions locks(6);
  std::atomic<int> settled{0};
  std::thread destroying;
  {
    auto offloaded = std::make_unique<tollgate::offloading_ledger<gated_ledger>>(slow, tollgate::offloading_options{.threads = 1, .queue_capacity = 16});
    for (std::size_t i = 0; i < 6; ++i) offloaded->async_lock(fmt::format("c{}", i), 1_cr, "k", locks.handler(i));
    slow.wait_for_waiting(1);  // the one worker is stuck in the first lock; five locks wait behind it
    for (int i = 0; i < 2; ++i) offloaded->async_settle("lk-c0", 1_cr, [&](result<settlement> r) { settled += r ? 1 : 100; });
    destroying = std::thread([&] { offloaded.reset(); });  // blocks joining the stuck worker
    // The waiting locks are refused without waiting for the ledger, which is still stuck.
    for (std::size_t i = 1; i < 6; ++i) {
      CAPTURE(i);
      std::unique_lock guard(locks.mutex);
      REQUIRE(locks.changed.wait_for(guard, std::chrono::seconds(10), [&] { return locks.times_called[i] == 1; }));
      CHECK(locks.results[i]->error().code == ledger_errc::unavailable);
      CHECK(locks.results[i]->error().message.find("shutting down") != std::string::npos);
    }
    slow.let_through();
    destroying.join();
  }
  locks.wait_all();
  for (int t : locks.times_called) CHECK(t == 1);
  CHECK(*locks.results[0]);      // the lock that was running finished normally
  CHECK(settled == 2);           // both settles ran, against the ledger
  CHECK(slow.calls == 3);        // one lock and two settles reached it
}

TEST_CASE("offloading_ledger: settles are queued even when locks are refused for a full queue") {
  gated_ledger slow;
  completions locks(3);
  std::atomic<int> settled{0};
  {
    tollgate::offloading_ledger offloaded(slow, {.threads = 1, .queue_capacity = 1});
    offloaded.async_lock("a", 1_cr, "k", locks.handler(0));
    slow.wait_for_waiting(1);
    offloaded.async_lock("b", 1_cr, "k", locks.handler(1));  // fills the queue
    offloaded.async_lock("c", 1_cr, "k", locks.handler(2));  // refused
    {
      std::lock_guard guard(locks.mutex);
      CHECK(locks.times_called[2] == 1);
      CHECK(locks.results[2]->error().message.find("queue full") != std::string::npos);
    }
    for (int i = 0; i < 3; ++i) offloaded.async_settle("lk-a", 1_cr, [&](result<settlement> r) { settled += r ? 1 : 100; });
    CHECK(offloaded.queued() == 4);  // one lock and three settles: a settle ends a granted lock, never dropped
    slow.let_through();
    locks.wait_all();
  }
  CHECK(settled == 3);
}

TEST_CASE("offloading_ledger: a completion handler may destroy the ledger") {
  gated_ledger open_ledger;
  open_ledger.let_through();
  std::promise<void> destroyed;
  auto offloaded = new tollgate::offloading_ledger<gated_ledger>(open_ledger, {.threads = 2, .queue_capacity = 4});
  offloaded->async_lock("c", 1_cr, "k", [&, offloaded](result<lock_grant> r) {
    CHECK(r);
    delete offloaded;  // on one of its own workers: that one is detached, the other joined
    destroyed.set_value();
  });
  REQUIRE(destroyed.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
}

TEST_CASE("offloading_ledger: a throwing ledger completes with unavailable; a throwing handler is logged, not fatal") {
  gated_ledger failing;
  failing.throw_instead = true;
  failing.let_through();
  auto lines = std::make_shared<std::vector<std::string>>();
  auto lines_mutex = std::make_shared<std::mutex>();
  tollgate::logger log(tollgate::log_level::error, [lines, lines_mutex](tollgate::log_level, std::string_view s) {
    std::lock_guard guard(*lines_mutex);
    lines->emplace_back(s);
  });
  completions done(2);
  {
    tollgate::offloading_ledger offloaded(failing, {.threads = 1, .queue_capacity = 4, .log = log});
    offloaded.async_lock("c", 1_cr, "k", done.handler(0));
    offloaded.async_settle("lk-c", 1_cr, [](result<settlement>) { throw std::runtime_error("handler bug"); });
    offloaded.async_lock("c", 1_cr, "k2", done.handler(1));
    done.wait_all();
  }
  for (std::size_t i = 0; i < 2; ++i) {
    REQUIRE_FALSE(*done.results[i]);
    CHECK(done.results[i]->error().code == ledger_errc::unavailable);
    CHECK(done.results[i]->error().message.find("connection reset") != std::string::npos);
  }
  std::lock_guard guard(*lines_mutex);
  REQUIRE(lines->size() == 1);
  CHECK(lines->front().find("handler bug") != std::string::npos);
}

TEST_CASE("offloading_ledger: refuses a pool without threads or a queue without room") {
  gated_ledger l;
  CHECK_THROWS_AS(tollgate::offloading_ledger(l, {.threads = 0, .queue_capacity = 1}), std::invalid_argument);
  CHECK_THROWS_AS(tollgate::offloading_ledger(l, {.threads = 1, .queue_capacity = 0}), std::invalid_argument);
}
