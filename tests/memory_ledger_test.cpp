// Tests of memory_ledger: holds, settlements, idempotency, expiry, summary, and concurrent spending.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
using tollgate::credits;
using tollgate::ledger_errc;

namespace {
struct fake_clock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::time_point{} + std::chrono::hours(1));
  void advance(std::chrono::milliseconds d) const { *now += d; }
  auto fn() const { return [p = now] { return *p; }; }
};

tollgate::memory_ledger_options options_with(const fake_clock& clock, std::chrono::milliseconds ttl = std::chrono::seconds(60)) {
  tollgate::memory_ledger_options o;
  o.lock_ttl = ttl;
  o.now = clock.fn();
  return o;
}
}  // namespace

TEST_CASE("memory_ledger: lock holds, settle charges the real cost and returns the rest") {
  tollgate::memory_ledger ledger;
  REQUIRE(ledger.add_user("alice", 100_cr));
  REQUIRE(ledger.add_credential("sk-alice", "alice"));
  auto grant = ledger.lock("sk-alice", 5_cr, "k1");
  REQUIRE(grant);
  CHECK(grant->amount == 5_cr);
  CHECK(ledger.balance("alice") == 95_cr);
  auto s = ledger.settle(grant->lock_id, 1.25_cr);
  REQUIRE(s);
  CHECK(s->charged == 1.25_cr);
  CHECK_FALSE(s->replayed);
  CHECK(ledger.balance("alice") == 98.75_cr);
  CHECK(ledger.summary().locks.empty());
}

TEST_CASE("memory_ledger: refusals carry the right error and hold nothing") {
  tollgate::memory_ledger ledger;
  ledger.add_user("bob", 2_cr);
  ledger.add_credential("bob", "bob");
  auto poor = ledger.lock("bob", 2.000001_cr, "k");
  REQUIRE_FALSE(poor);
  CHECK(poor.error().code == ledger_errc::insufficient_funds);
  auto unknown = ledger.lock("mallory", 1_cr, "k2");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == ledger_errc::unknown_credential);
  auto negative = ledger.lock("bob", -(1_cr), "k3");
  REQUIRE_FALSE(negative);
  CHECK(negative.error().code == ledger_errc::invalid_amount);
  CHECK(ledger.balance("bob") == 2_cr);
  CHECK_FALSE(ledger.add_user("bob", 5_cr));  // no silent overwrite
  CHECK_FALSE(ledger.add_credential("x", "nobody"));
  CHECK_THROWS_AS((void)unknown.value(), tollgate::bad_result_access);
}

TEST_CASE("memory_ledger: a repeated idempotency key returns the first grant, not a second hold") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  auto first = ledger.lock("u", 4_cr, "same-key");
  auto again = ledger.lock("u", 4_cr, "same-key");
  REQUIRE(first);
  REQUIRE(again);
  CHECK(first->lock_id == again->lock_id);
  CHECK(ledger.balance("u") == 6_cr);
}

TEST_CASE("memory_ledger: settle is idempotent; a different cost conflicts; unknown lock is not found") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  auto grant = ledger.lock("u", 4_cr, "k");
  REQUIRE(ledger.settle(grant->lock_id, 1_cr));
  auto replay = ledger.settle(grant->lock_id, 1_cr);
  REQUIRE(replay);
  CHECK(replay->replayed);
  auto conflict = ledger.settle(grant->lock_id, 2_cr);
  REQUIRE_FALSE(conflict);
  CHECK(conflict.error().code == ledger_errc::conflicting_settlement);
  CHECK(ledger.balance("u") == 9_cr);  // charged once
  auto missing = ledger.settle("lk_nope", 1_cr);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ledger_errc::lock_not_found);
  auto release_replay = ledger.release(grant->lock_id);
  CHECK_FALSE(release_replay);  // released ≠ settled for 1: a conflict, not a refund
}

TEST_CASE("memory_ledger: a cost above the hold is refused unless overage is allowed and covered") {
  tollgate::memory_ledger strict;
  strict.add_user("u", 10_cr);
  strict.add_credential("u", "u");
  auto g = strict.lock("u", 2_cr, "k");
  auto over = strict.settle(g->lock_id, 3_cr);
  REQUIRE_FALSE(over);
  CHECK(over.error().code == ledger_errc::invalid_amount);
  CHECK(strict.settle(g->lock_id, 2_cr));
  CHECK(strict.balance("u") == 8_cr);

  tollgate::memory_ledger_options o;
  o.allow_overage = true;
  tollgate::memory_ledger lenient(o);
  lenient.add_user("u", 10_cr);
  lenient.add_credential("u", "u");
  auto g2 = lenient.lock("u", 2_cr, "k");
  REQUIRE(lenient.settle(g2->lock_id, 3_cr));
  CHECK(lenient.balance("u") == 7_cr);
  auto g3 = lenient.lock("u", 1_cr, "k3");
  auto too_much = lenient.settle(g3->lock_id, 8.5_cr);  // 6 available + 1 held < 8.5
  REQUIRE_FALSE(too_much);
  CHECK(too_much.error().code == ledger_errc::insufficient_funds);
}

TEST_CASE("memory_ledger: locks expire after the TTL and return their funds") {
  fake_clock clock;
  tollgate::memory_ledger ledger(options_with(clock, std::chrono::seconds(30)));
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  auto g = ledger.lock("u", 6_cr, "k");
  CHECK(ledger.balance("u") == 4_cr);
  auto summary = ledger.summary();
  REQUIRE(summary.locks.size() == 1);
  CHECK(summary.locks[0].expires_in == std::chrono::seconds(30));
  CHECK(summary.users[0].held == 6_cr);
  clock.advance(std::chrono::seconds(29));
  CHECK(ledger.balance("u") == 4_cr);
  clock.advance(std::chrono::seconds(1));
  CHECK(ledger.balance("u") == 10_cr);
  CHECK(ledger.summary().locks.empty());
  auto late = ledger.settle(g->lock_id, 1_cr);
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ledger_errc::lock_not_found);
  CHECK(ledger.balance("u") == 10_cr);
}

TEST_CASE("memory_ledger: top_up adds to the available balance") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 1_cr);
  CHECK(ledger.top_up("u", 2.5_cr).value() == 3.5_cr);
  CHECK(ledger.top_up("nobody", 1_cr).error().code == ledger_errc::unknown_credential);
  CHECK(ledger.top_up("u", -(1_cr)).error().code == ledger_errc::invalid_amount);
  CHECK(ledger.owner_of("u") == std::nullopt);  // a user id is not a credential until mapped
}

TEST_CASE("memory_ledger: many threads spending one balance never overspend and end exact") {
  tollgate::memory_ledger ledger;
  ledger.add_user("shared", 100_cr);
  ledger.add_credential("shared", "shared");
  constexpr int threads = 8, attempts = 500;
  std::atomic<int> granted{0}, refused{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < attempts; ++i) {
        auto g = ledger.lock("shared", 0.3_cr, "t" + std::to_string(t) + "-" + std::to_string(i));
        if (!g) {
          CHECK(g.error().code == ledger_errc::insufficient_funds);
          ++refused;
          continue;
        }
        ++granted;
        REQUIRE(ledger.settle(g->lock_id, 0.3_cr));
        auto b = ledger.balance("shared");
        REQUIRE(b >= credits{});
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(granted + refused == threads * attempts);
  // Available only ever falls here, so exactly floor(100 / 0.3) = 333 holds fit, leaving 0.1.
  CHECK(granted == 333);
  CHECK(ledger.balance("shared") == 0.1_cr);
  CHECK(ledger.summary().locks.empty());
}

TEST_CASE("memory_ledger: export_state and import_state carry balances, locks and settlements across a restart") {
  fake_clock clock;
  tollgate::memory_ledger before(options_with(clock, std::chrono::seconds(60)));
  before.add_user("u", 10_cr);
  before.add_credential("sk-u", "u");
  auto open = before.lock("sk-u", 3_cr, "k-open");
  auto done = before.lock("sk-u", 2_cr, "k-done");
  REQUIRE(before.settle(done->lock_id, 1_cr));
  clock.advance(std::chrono::seconds(20));
  const auto state = before.export_state();
  REQUIRE(state.locks.size() == 1);
  CHECK(state.locks[0].expires_in == std::chrono::seconds(40));

  tollgate::memory_ledger after(options_with(clock, std::chrono::seconds(60)));
  after.import_state(state);
  CHECK(after.balance("u") == 6_cr);                                   // 10 − 1 charged − 3 held
  CHECK(after.lock("sk-u", 3_cr, "k-open")->lock_id == open->lock_id);   // replayed, not held twice
  CHECK(after.settle(done->lock_id, 1_cr)->replayed);
  REQUIRE(after.settle(open->lock_id, 0.5_cr));
  CHECK(after.balance("u") == 8.5_cr);
  CHECK(after.summary().users.at(0).held == credits{});
}
