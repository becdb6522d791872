// seen_event_ids: claims are atomic, remembered for the retention, and a full memory refuses instead of forgetting.
#include <tollgate/webhooks/seen_event_ids.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

namespace {
using namespace std::chrono_literals;
using tollgate::webhooks::seen_event_ids;
using claim = seen_event_ids::claim;
const seen_event_ids::clock::time_point t0{std::chrono::seconds(1'700'000'000)};
}  // namespace

TEST_CASE("seen_event_ids: a second claim within the retention is a duplicate; after it, a first again") {
  seen_event_ids seen{10, 10min};
  CHECK(seen.try_claim("evt_1", t0) == claim::first);
  CHECK(seen.try_claim("evt_1", t0 + 9min) == claim::duplicate);
  CHECK(seen.contains("evt_1", t0 + 9min));
  CHECK(seen.try_claim("evt_2", t0) == claim::first);
  CHECK_FALSE(seen.contains("evt_1", t0 + 10min));
  CHECK(seen.try_claim("evt_1", t0 + 10min) == claim::first);
  CHECK(seen.size() == 1);  // evt_2 expired and went at that claim
}

TEST_CASE("seen_event_ids: full means refused, never an id forgotten early") {
  seen_event_ids seen{3, 10min};
  CHECK(seen.try_claim("a", t0) == claim::first);
  CHECK(seen.try_claim("b", t0 + 1min) == claim::first);
  CHECK(seen.try_claim("c", t0 + 2min) == claim::first);
  CHECK(seen.try_claim("d", t0 + 3min) == claim::full);
  CHECK(seen.try_claim("a", t0 + 3min) == claim::duplicate);  // still remembered
  CHECK(seen.size() == 3);
  CHECK(seen.try_claim("d", t0 + 10min) == claim::first);  // "a" expired: room again
  CHECK(seen.try_claim("b", t0 + 10min) == claim::duplicate);
}

TEST_CASE("seen_event_ids: forget lets a retry through; the bound still holds") {
  seen_event_ids seen{2, 10min};
  CHECK(seen.try_claim("a", t0) == claim::first);
  seen.forget("a");
  CHECK(seen.try_claim("a", t0) == claim::first);
  seen.forget("a");
  CHECK(seen.size() == 0);
  CHECK(seen.try_claim("b", t0) == claim::full);  // two queue slots still wait to expire
  CHECK(seen.try_claim("b", t0 + 10min) == claim::first);
}

TEST_CASE("seen_event_ids: bad construction is refused") {
  CHECK_THROWS_AS(seen_event_ids(0, 1min), std::invalid_argument);
  CHECK_THROWS_AS(seen_event_ids(1, 0s), std::invalid_argument);
}

TEST_CASE("seen_event_ids: of concurrent claims of one id, exactly one is first") {
  seen_event_ids seen{100'000, 10min};
  constexpr int threads = 4;
  constexpr int ids = 500;
  std::atomic<int> firsts{0};
  std::atomic<int> duplicates{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = 0; i < ids; ++i) {
        const auto c = seen.try_claim("evt_" + std::to_string(i), t0);
        (c == claim::first ? firsts : duplicates).fetch_add(1);
      }
    });
  for (auto& th : pool) th.join();
  CHECK(firsts.load() == ids);
  CHECK(duplicates.load() == ids * (threads - 1));
  CHECK(seen.size() == static_cast<std::size_t>(ids));
}
