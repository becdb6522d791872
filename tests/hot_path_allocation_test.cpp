// The hot path allocates nothing: memory_ledger lock+settle once its ring has reached its plateau, and
// metered on top of it allocates exactly what a hand-written lock -> handler -> settle does.
// Its own executable: it replaces the global operator new to count allocations.
#include <doctest/doctest.h>

// g++ 12 -O3 inlines the replacement operator delete below (std::free) into library code and then
// warns that free() meets a pointer from operator new: it is the matching operator new, which
// calls malloc. A false positive of replacing the global allocator, which only this test does.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/tollgate.hpp>

namespace {
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace tollgate::literals;

namespace {
struct fake_clock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::time_point{} + std::chrono::hours(1));
  auto fn() const { return [p = now] { return *p; }; }
};

tollgate::memory_ledger_options steady_options(const fake_clock& clock) {
  tollgate::memory_ledger_options o;
  o.lock_ttl = std::chrono::seconds(1);
  o.retention_grace = std::chrono::seconds(1);
  o.now = clock.fn();
  return o;
}

// `steps` rounds of `per_step` operations, the clock moving 100 ms after each: a steady rate.
template <class Operation>
void at_steady_rate(const fake_clock& clock, int steps, int per_step, Operation&& operation) {
  for (int step = 0; step < steps; ++step) {
    for (int i = 0; i < per_step; ++i) operation();
    *clock.now += std::chrono::milliseconds(100);
  }
}

void handler(const tollgate::basic_request&, tollgate::basic_response& res) { res.set_content("{\"ok\":true}", "application/json"); }
}  // namespace

// What `lock_and_settle(ledger, fresh_key)` allocates at a steady rate, counted once retention has
// reached its plateau (6 s in: past the 2 s retention, the ring is at its size).
template <class LockAndSettle>
long allocations_at_plateau(LockAndSettle&& lock_and_settle) {
  fake_clock clock;
  tollgate::memory_ledger ledger(steady_options(clock));
  ledger.add_user("u", tollgate::credits::whole(1'000'000'000));
  ledger.add_credential("u", "u");
  std::uint64_t n = 0;
  char key[16];
  const auto step = [&] {
    const auto length = fmt::format_to_n(key, sizeof key, "k{}", ++n).size;
    lock_and_settle(ledger, std::string_view(key, length));
  };
  at_steady_rate(clock, 60, 1'000, step);
  const long before = allocations.load();
  at_steady_rate(clock, 40, 1'000, step);
  const long allocated = allocations.load() - before;
  CHECK(ledger.balance("u") == tollgate::credits::whole(1'000'000'000) - tollgate::credits::whole(50'000));
  return allocated;
}

TEST_CASE("hot path: memory_ledger lock + settle allocates nothing once retention has reached its plateau") {
  CHECK(allocations_at_plateau([](tollgate::memory_ledger& ledger, std::string_view key) {
          auto grant = ledger.lock("u", 1_cr, key);
          REQUIRE(grant);
          REQUIRE(ledger.settle(grant->lock_id, 0.5_cr));
        }) == 0);
}

TEST_CASE("hot path: memory_ledger's async lock + settle allocate nothing either (inline completion)") {
  CHECK(allocations_at_plateau([](tollgate::memory_ledger& ledger, std::string_view key) {
          ledger.async_lock("u", 1_cr, key, [&ledger](tollgate::result<tollgate::lock_grant> grant) {
            REQUIRE(grant);
            ledger.async_settle(grant->lock_id, 0.5_cr, [](tollgate::result<tollgate::settlement> settled) { REQUIRE(settled); });
          });
        }) == 0);
}

TEST_CASE("hot path: metered allocates no more than the same steps written by hand") {
  fake_clock clock;
  tollgate::memory_ledger ledger(steady_options(clock));
  ledger.add_user("bench-user", tollgate::credits::whole(1'000'000'000));
  ledger.add_credential("bench-user", "bench-user");
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>> m{
      ledger, handler, {tollgate::logger::silent(), {}}};
  tollgate::basic_request req;
  req.with_method("GET").with_path("/api/simple").with_header("X-User-ID", "bench-user");

  const auto metered_request = [&] {
    tollgate::basic_response res;
    m(req, res);
    REQUIRE(res.status() == 200);
  };
  const auto by_hand = [&] {
    tollgate::basic_response res;
    auto grant = ledger.lock(*req.header("X-User-ID"), 1_cr, {});  // no key, as metered locks an in-process ledger
    REQUIRE(grant);
    handler(req, res);
    REQUIRE(ledger.settle(grant->lock_id, 0.5_cr + (0.1_cr).scaled(static_cast<std::int64_t>(res.body().size()), 1024)));
  };
  at_steady_rate(clock, 60, 500, [&] { metered_request(); by_hand(); });

  long start = allocations.load();
  at_steady_rate(clock, 10, 500, by_hand);
  const long hand_written = allocations.load() - start;
  start = allocations.load();
  at_steady_rate(clock, 10, 500, metered_request);
  const long metered = allocations.load() - start;
  MESSAGE("allocations per request: by hand ", static_cast<double>(hand_written) / 5000, ", metered ",
          static_cast<double>(metered) / 5000);
  CHECK(metered == hand_written);
}
