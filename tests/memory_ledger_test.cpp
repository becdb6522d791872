// Tests of memory_ledger: holds, settlements, idempotency, expiry, summary, and concurrent spending.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <chrono>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <tollgate/detail/random_id.hpp>
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
  // A user added without a credential: refused the same way, but the message names the slip.
  ledger.add_user("carol", 5_cr);
  auto no_credential = ledger.lock("carol", 1_cr, "k4");
  REQUIRE_FALSE(no_credential);
  CHECK(no_credential.error().code == ledger_errc::unknown_credential);
  CHECK(no_credential.error().message.find("add_credential(id, id)") != std::string::npos);
  CHECK(no_credential.error().message.find("carol") == std::string::npos);  // never the value itself
  CHECK(unknown.error().message.find("add_credential") == std::string::npos);
  CHECK(ledger.balance("carol") == 5_cr);
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

TEST_CASE("memory_ledger: top_up answers the balance with expired holds returned") {
  fake_clock clock;
  tollgate::memory_ledger ledger(options_with(clock, std::chrono::seconds(30)));
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  REQUIRE(ledger.lock("u", 4_cr, "k"));
  clock.advance(std::chrono::seconds(30));
  CHECK(ledger.top_up("u", 1_cr).value() == 11_cr);  // was 7: the expired hold was still counted out
  CHECK(ledger.balance("u") == 11_cr);
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
        auto g = ledger.lock("shared", 0.3_cr, fmt::format("t{}-{}", t, i));
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

TEST_CASE("memory_ledger: a closed lock is remembered for ttl + grace, then its id is a clear lock_not_found") {
  fake_clock clock;
  auto o = options_with(clock, std::chrono::seconds(30));
  o.retention_grace = std::chrono::seconds(10);
  tollgate::memory_ledger ledger(o);
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  auto g = ledger.lock("u", 2_cr, "key-1");
  REQUIRE(ledger.settle(g->lock_id, 1_cr));
  clock.advance(std::chrono::seconds(39));  // 1 s short of 30 + 10
  CHECK(ledger.settle(g->lock_id, 1_cr)->replayed);
  CHECK(ledger.lock("u", 2_cr, "key-1")->lock_id == g->lock_id);  // the first grant, not a second hold
  CHECK(ledger.balance("u") == 9_cr);
  clock.advance(std::chrono::seconds(1));
  auto late = ledger.settle(g->lock_id, 1_cr);
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ledger_errc::lock_not_found);
  CHECK(late.error().message.find("longer ago than the ledger remembers") != std::string::npos);
  CHECK(ledger.remembered_locks() == 0);
  auto again = ledger.lock("u", 2_cr, "key-1");  // the key is forgotten too: a new hold
  REQUIRE(again);
  CHECK(again->lock_id != g->lock_id);
  CHECK(ledger.balance("u") == 7_cr);
}

TEST_CASE("memory_ledger: memory follows rate x retention, never the requests served in all") {
  fake_clock clock;
  auto o = options_with(clock, std::chrono::seconds(2));
  o.retention_grace = std::chrono::seconds(1);
  tollgate::memory_ledger ledger(o);
  ledger.add_user("u", tollgate::credits::whole(1'000'000));
  ledger.add_credential("u", "u");
  // 200 locks per simulated 100 ms (2,000/s) for 20 s: 40,000 served, 3 s remembered = 6,000.
  std::size_t peak_after_warmup = 0;
  for (int step = 0; step < 200; ++step) {
    for (int i = 0; i < 200; ++i) {
      auto g = ledger.lock("u", 1_cr, fmt::format("s{}-{}", step, i));
      REQUIRE(g);
      REQUIRE(ledger.settle(g->lock_id, 0.5_cr));
    }
    clock.advance(std::chrono::milliseconds(100));
    if (step >= 40) peak_after_warmup = std::max(peak_after_warmup, ledger.remembered_locks());
  }
  CHECK(peak_after_warmup <= 6'200);
  CHECK(peak_after_warmup >= 5'800);
  CHECK(ledger.balance("u") == tollgate::credits::whole(1'000'000) - tollgate::credits::whole(20'000));
}

TEST_CASE("memory_ledger: the memory budget forgets the oldest closed locks early, never an open one") {
  tollgate::memory_ledger_options o;
  o.retention_memory = 64 * 200 * 4;  // a few hundred records across the shards
  tollgate::memory_ledger ledger(o);
  ledger.add_user("u", tollgate::credits::whole(1'000'000));
  ledger.add_credential("u", "u");
  auto open = ledger.lock("u", 1_cr, "held-open");
  for (int i = 0; i < 20'000; ++i) {
    auto g = ledger.lock("u", 1_cr, fmt::format("k{}", i));
    REQUIRE(ledger.settle(g->lock_id, 1_cr));
  }
  // The open lock at the front pins the ring; once it closes, the budget applies.
  REQUIRE(ledger.settle(open->lock_id, 0_cr));
  for (int i = 0; i < 2'000; ++i) {
    auto g = ledger.lock("u", 1_cr, fmt::format("m{}", i));
    REQUIRE(ledger.settle(g->lock_id, 1_cr));
  }
  CHECK(ledger.remembered_locks() < 2'000);
  CHECK(ledger.balance("u") == tollgate::credits::whole(1'000'000 - 22'000));
}

TEST_CASE("memory_ledger: idempotency keys belong to the user who locked") {
  tollgate::memory_ledger ledger;
  ledger.add_user("a", 10_cr);
  ledger.add_user("b", 10_cr);
  ledger.add_credential("a", "a");
  ledger.add_credential("b", "b");
  auto first = ledger.lock("a", 1_cr, "same-key");
  auto other = ledger.lock("b", 2_cr, "same-key");
  REQUIRE(first);
  REQUIRE(other);
  CHECK(first->lock_id != other->lock_id);
  CHECK(ledger.balance("a") == 9_cr);
  CHECK(ledger.balance("b") == 8_cr);
}

TEST_CASE("memory_ledger: lock ids are 15 characters, so a grant allocates no string") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  for (int i = 0; i < 100; ++i) {
    auto g = ledger.lock("u", 0.01_cr, "");
    REQUIRE(g);
    CHECK(g->lock_id.size() == 15);
    CHECK(g->lock_id.rfind("lk_", 0) == 0);
    REQUIRE(ledger.release(g->lock_id));
  }
  CHECK_FALSE(ledger.settle("lk_zzzzzzzzzzzz", 0_cr));
  CHECK_FALSE(ledger.settle("not-an-id", 0_cr));
  CHECK(tollgate::detail::request_key().size() == 15);
  CHECK(tollgate::detail::request_key() != tollgate::detail::request_key());
}

TEST_CASE("memory_ledger: replaying every reported change rebuilds the same state") {
  fake_clock clock;
  std::vector<std::pair<tollgate::ledger_change, std::vector<std::string>>> journal;  // views copied out
  auto o = options_with(clock, std::chrono::seconds(30));
  o.on_change = [&](const tollgate::ledger_change& c) {
    journal.push_back({c, {std::string(c.user_id), std::string(c.credential), std::string(c.lock_id), std::string(c.idempotency_key)}});
  };
  tollgate::memory_ledger before(o);
  before.add_user("a", 50_cr);
  before.add_user("b", 5_cr);
  before.add_credential("sk-a", "a");
  before.add_credential("b", "b");
  REQUIRE(before.top_up("b", 1.5_cr));
  auto open = before.lock("sk-a", 3_cr, "k-open");
  auto done = before.lock("sk-a", 2_cr, "k-done");
  auto gone = before.lock("b", 1_cr, "k-gone");
  REQUIRE(before.settle(done->lock_id, 1.25_cr));
  clock.advance(std::chrono::seconds(10));
  auto late = before.lock("b", 4_cr, "k-late");
  clock.advance(std::chrono::seconds(21));  // `gone` and `open` expire, `late` stays open
  CHECK(before.reap_expired() == 2);
  REQUIRE(journal.size() == 12);  // 2 users, 2 credentials, 1 top-up, 4 locks, 1 settle, 2 expiries
  CHECK(journal.back().first.what == tollgate::ledger_change::kind::expired);

  tollgate::memory_ledger after(options_with(clock, std::chrono::seconds(30)));
  for (auto& [change, text] : journal) {
    change.user_id = text[0];
    change.credential = text[1];
    change.lock_id = text[2];
    change.idempotency_key = text[3];
    after.apply(change);
  }
  const auto a = before.export_state(), b = after.export_state();
  REQUIRE(a.users.size() == b.users.size());
  for (std::size_t i = 0; i < a.users.size(); ++i) {
    CHECK(a.users[i].user_id == b.users[i].user_id);
    CHECK(a.users[i].available == b.users[i].available);
  }
  CHECK(after.balance("a") == 48.75_cr);
  CHECK(after.balance("b") == 2.5_cr);
  REQUIRE(b.locks.size() == 1);
  CHECK(b.locks[0].lock_id == late->lock_id);
  CHECK(after.settle(done->lock_id, 1.25_cr)->replayed);
  CHECK(after.lock("b", 4_cr, "k-late")->lock_id == late->lock_id);
  REQUIRE(after.settle(late->lock_id, 4_cr));
  CHECK(after.balance("b") == 2.5_cr);
  CHECK_FALSE(after.settle(open->lock_id, 1_cr));  // expired before it was settled
  CHECK_THROWS_AS(after.apply(journal.front().first), std::invalid_argument);  // the user exists already
}

TEST_CASE("memory_ledger: ids from an older state file still settle after import") {
  tollgate::memory_ledger_state state;
  state.users.push_back({"u", 7_cr});
  state.credentials.push_back({"u", "u"});
  state.locks.push_back({"lk_0123456789abcdef0123456789abcdef", "u", 3_cr, std::chrono::seconds(60), "old-key"});
  state.settled.push_back({"lk_fedcba9876543210fedcba9876543210", 1_cr, false, "", 2_cr});
  tollgate::memory_ledger ledger;
  ledger.import_state(state);
  CHECK(ledger.balance("u") == 7_cr);
  CHECK(ledger.lock("u", 3_cr, "old-key")->lock_id == "lk_0123456789abcdef0123456789abcdef");
  CHECK(ledger.settle("lk_fedcba9876543210fedcba9876543210", 1_cr)->replayed);
  REQUIRE(ledger.settle("lk_0123456789abcdef0123456789abcdef", 2_cr));
  CHECK(ledger.balance("u") == 8_cr);
  state.credentials.push_back({"x", "nobody"});
  CHECK_THROWS_AS(ledger.import_state(state), std::invalid_argument);
}

TEST_CASE("memory_ledger: a damaged state is refused whole, naming the record, never half loaded") {
  const auto good = [] {
    tollgate::memory_ledger_state state;
    state.users.push_back({"u", 7_cr});
    state.credentials.push_back({"u", "u"});
    state.locks.push_back({"lk_a", "u", 1_cr, std::chrono::seconds(60), ""});
    return state;
  };
  const auto refused = [](const tollgate::memory_ledger_state& state) -> std::string {
    tollgate::memory_ledger ledger;
    try {
      ledger.import_state(state);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  CHECK(refused(good()).empty());
  auto huge_ttl = good();
  huge_ttl.locks[0].expires_in = std::chrono::milliseconds::max() / 2;  // overflowed a clock before
  CHECK(refused(huge_ttl).find("lock lk_a") != std::string::npos);
  auto negative = good();
  negative.users[0].available = -(1_cr);
  CHECK(refused(negative).find("user 'u'") != std::string::npos);
  auto orphan_credential = good();
  orphan_credential.credentials.push_back({"sk-ghost", "ghost"});  // made lock() throw out_of_range before
  CHECK(refused(orphan_credential).find("'ghost'") != std::string::npos);
  auto orphan_lock = good();
  orphan_lock.locks[0].user_id = "ghost";
  CHECK(refused(orphan_lock).find("lock lk_a") != std::string::npos);
  auto overdrawn = good();
  overdrawn.locks[0].amount = tollgate::credits::from_micros(std::numeric_limits<std::int64_t>::max());
  CHECK(refused(overdrawn).find("lock lk_a") != std::string::npos);
  auto twice = good();
  twice.users.push_back({"u", 1_cr});
  CHECK(refused(twice).find("twice") != std::string::npos);
}

TEST_CASE("memory_ledger: threads on different users never lose a micro-credit") {
  tollgate::memory_ledger ledger;
  constexpr int threads = 4, rounds = 2'000;
  for (int t = 0; t < threads; ++t) {
    ledger.add_user(fmt::format("user-{}", t), 1'000_cr);
    ledger.add_credential(fmt::format("user-{}", t), fmt::format("user-{}", t));
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const std::string user = fmt::format("user-{}", t);
      for (int i = 0; i < rounds; ++i) {
        auto g = ledger.lock(user, 0.3_cr, fmt::format("{}", i));
        REQUIRE(g);
        REQUIRE(ledger.settle(g->lock_id, 0.1_cr));
      }
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) CHECK(ledger.balance(fmt::format("user-{}", t)) == 800_cr);
  CHECK(ledger.summary().locks.empty());
}
