// Tests of durable_ledger: transient settle failures are journaled, retried, replayed after restart.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
using tollgate::credits;
using tollgate::ledger_errc;

namespace {

// A ledger archetype in front of a memory_ledger that can be switched "down" (every call fails
// as unavailable), to play a credit service going away and coming back.
struct switchable_ledger {
  using ledger_concept = tollgate::ledger_t;
  tollgate::memory_ledger& real;
  std::atomic<bool> down{false};
  std::atomic<int> settle_calls{0};
  // Simulates an answer lost on the way back: the settle lands, the caller sees a timeout.
  std::atomic<bool> lose_next_answer{false};
  std::atomic<bool> lose_next_lock_answer{false};

  tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) {
    if (down) return tollgate::ledger_error{ledger_errc::unavailable, "down"};
    auto r = real.lock(c, a, k);
    if (lose_next_lock_answer.exchange(false)) return tollgate::ledger_error{ledger_errc::unavailable, "timed out", true};
    return r;
  }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) {
    ++settle_calls;
    if (down) return tollgate::ledger_error{ledger_errc::unavailable, "down"};
    auto r = real.settle(id, cost);
    if (lose_next_answer.exchange(false)) return tollgate::ledger_error{ledger_errc::unavailable, "timed out"};
    return r;
  }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return settle(id, credits{}); }
  bool health() { return !down; }
};

// The same with async forms that answer inline, as memory_ledger's do.
struct switchable_async_ledger : switchable_ledger {
  using async_ledger_concept = tollgate::async_ledger_t;
  template <class Handler>
  void async_lock(std::string_view c, credits a, std::string_view k, Handler&& done) {
    std::forward<Handler>(done)(lock(c, a, k));
  }
  template <class Handler>
  void async_settle(std::string_view id, credits cost, Handler&& done) {
    std::forward<Handler>(done)(settle(id, cost));
  }
  template <class Handler>
  void async_release(std::string_view id, Handler&& done) {
    std::forward<Handler>(done)(release(id));
  }
};

struct temp_journal {
  std::string path = fmt::format("/tmp/tollgate-journal-{}", ::getpid()) + fmt::format("-{}", counter()++) + ".log";
  ~temp_journal() {
    std::remove(path.c_str());
    std::remove((path + ".tmp").c_str());
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string text() const {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

tollgate::durable_ledger_options fast(std::optional<std::string> path) {
  tollgate::durable_ledger_options o;
  o.journal_path = std::move(path);
  o.first_retry = std::chrono::milliseconds(20);
  o.max_retry = std::chrono::milliseconds(100);
  o.shutdown_grace = std::chrono::milliseconds(200);
  o.log = tollgate::logger::silent();
  return o;
}

struct world {
  tollgate::memory_ledger real;
  switchable_ledger service{real};
  world() {
    real.add_user("u", 100_cr);
    real.add_credential("u", "u");
  }
};

}  // namespace

TEST_CASE("durable_ledger: passes through when the ledger answers") {
  world w;
  tollgate::durable_ledger ledger(w.service, fast(std::nullopt));
  auto g = ledger.lock("u", 5_cr, "k");
  REQUIRE(g);
  auto s = ledger.settle(g->lock_id, 2_cr);
  REQUIRE(s);
  CHECK_FALSE(s->deferred);
  CHECK(w.real.balance("u") == 98_cr);
  CHECK(ledger.pending() == 0);
}

TEST_CASE("durable_ledger: a settle during an outage is deferred, journaled, and lands exactly once") {
  world w;
  temp_journal journal;
  tollgate::durable_ledger ledger(w.service, fast(journal.path));
  auto g = ledger.lock("u", 5_cr, "k");
  w.service.down = true;
  auto s = ledger.settle(g->lock_id, 1.5_cr);
  REQUIRE(s);
  CHECK(s->deferred);
  CHECK(ledger.pending() == 1);
  CHECK(journal.text() == "owe " + g->lock_id + " 1500000 5000000\n");  // cost, and the hold behind it
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(w.service.settle_calls > 2);  // retried with backoff while down
  CHECK(w.real.balance("u") == 95_cr);
  w.service.down = false;
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(w.real.balance("u") == 98.5_cr);
  CHECK(journal.text().empty());  // nothing owed: the journal is empty again
}

TEST_CASE("durable_ledger: async forms over an async ledger — an outage's settle is deferred, journaled, and lands") {
  static_assert(tollgate::async_ledger<tollgate::durable_ledger<switchable_async_ledger>>);
  static_assert(!tollgate::async_ledger<tollgate::durable_ledger<switchable_ledger>>);  // only when the inner one is
  tollgate::memory_ledger real;
  real.add_user("u", 100_cr);
  real.add_credential("u", "u");
  switchable_async_ledger service{{real}};
  temp_journal journal;
  tollgate::durable_ledger ledger(service, fast(journal.path));

  std::optional<tollgate::result<tollgate::lock_grant>> granted;
  ledger.async_lock("u", 5_cr, "k", [&](tollgate::result<tollgate::lock_grant> g) { granted = std::move(g); });
  REQUIRE(granted);
  REQUIRE(*granted);
  service.down = true;
  std::optional<tollgate::result<tollgate::settlement>> settled;
  ledger.async_settle((*granted)->lock_id, 1.5_cr, [&](tollgate::result<tollgate::settlement> o) { settled = std::move(o); });
  REQUIRE(settled);
  REQUIRE(*settled);
  CHECK((*settled)->deferred);
  CHECK(journal.text() == "owe " + (*granted)->lock_id + " 1500000 5000000\n");
  service.down = false;
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(real.balance("u") == 98.5_cr);
  CHECK(journal.text().empty());

  // A release through the async form, and a lock refused for good passes through unchanged.
  std::optional<tollgate::result<tollgate::lock_grant>> second, refused;
  ledger.async_lock("u", 1_cr, "k2", [&](tollgate::result<tollgate::lock_grant> g) { second = std::move(g); });
  REQUIRE(second);
  REQUIRE(*second);
  std::optional<tollgate::result<tollgate::settlement>> released;
  ledger.async_release((*second)->lock_id, [&](tollgate::result<tollgate::settlement> o) { released = std::move(o); });
  REQUIRE(released);
  CHECK(*released);
  ledger.async_lock("u", 1000_cr, "k3", [&](tollgate::result<tollgate::lock_grant> g) { refused = std::move(g); });
  REQUIRE(refused);
  CHECK(refused->error().code == ledger_errc::insufficient_funds);
  CHECK(real.balance("u") == 98.5_cr);
}

TEST_CASE("durable_ledger: what is owed at shutdown is replayed by the next instance") {
  world w;
  temp_journal journal;
  std::string lock_id;
  w.service.down = true;
  {
    w.service.down = false;
    tollgate::durable_ledger ledger(w.service, fast(journal.path));
    auto g = ledger.lock("u", 10_cr, "k");
    lock_id = g->lock_id;
    w.service.down = true;
    CHECK(ledger.settle(lock_id, 4_cr)->deferred);
  }  // the process "stops" with the settlement still owed
  CHECK(journal.text() == "owe " + lock_id + " 4000000 10000000\n");
  CHECK(w.real.balance("u") == 90_cr);
  w.service.down = false;
  tollgate::durable_ledger restarted(w.service, fast(journal.path));
  CHECK(restarted.flush(std::chrono::seconds(5)));
  CHECK(w.real.balance("u") == 96_cr);
}

TEST_CASE("durable_ledger: a lost answer is retried, and the ledger's idempotency prevents a double charge") {
  world w;
  tollgate::durable_ledger ledger(w.service, fast(std::nullopt));
  auto g = ledger.lock("u", 10_cr, "k");
  w.service.lose_next_answer = true;  // lands, but the caller sees a timeout
  CHECK(ledger.settle(g->lock_id, 3_cr)->deferred);
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(w.real.balance("u") == 97_cr);  // charged once, not twice
}

TEST_CASE("durable_ledger: non-transient failures are not deferred; 'lock not found' on retry is dropped") {
  world w;
  tollgate::durable_ledger ledger(w.service, fast(std::nullopt));
  auto missing = ledger.settle("lk_never", 1_cr);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ledger_errc::lock_not_found);
  CHECK(ledger.pending() == 0);

  // Deferred, then the lock expires on the service side before the retry: reported, not retried forever.
  auto g = ledger.lock("u", 1_cr, "k2");
  w.service.down = true;
  CHECK(ledger.settle(g->lock_id, 1_cr)->deferred);
  w.real.import_state([&] {
    auto st = w.real.export_state();
    st.locks.clear();  // the service lost the lock (expired)
    st.users[0].available = 100_cr;
    return st;
  }());
  w.service.down = false;
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(ledger.pending() == 0);
}

TEST_CASE("durable_ledger: a torn last line in the journal is ignored, compaction keeps what is owed") {
  world w;
  temp_journal journal;
  auto g = w.real.lock("u", 5_cr, "k");
  {
    std::ofstream out(journal.path);
    out << "owe " << g->lock_id << " 2000000\n" << "owe lk_other 10\n" << "done lk_other\n" << "owe lk_torn 12";
  }
  tollgate::durable_ledger ledger(w.service, fast(journal.path));
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(w.real.balance("u") == 98_cr);
}

TEST_CASE("durable_ledger: one journal cannot be opened by two instances at once") {
  world w;
  temp_journal journal;
  tollgate::durable_ledger first(w.service, fast(journal.path));
  CHECK_THROWS_WITH_AS(tollgate::durable_ledger(w.service, fast(journal.path)), doctest::Contains("in use"), std::runtime_error);
}

TEST_CASE("durable_ledger: a deferred charge above the hold that the ledger refuses is settled for the hold") {
  world w;  // memory_ledger without overage: a cost above the lock is invalid
  tollgate::durable_ledger ledger(w.service, fast(std::nullopt));
  auto g = ledger.lock("u", 2_cr, "k");
  w.service.down = true;
  CHECK(ledger.settle(g->lock_id, 3_cr)->deferred);
  w.service.down = false;
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(w.real.balance("u") == 98_cr);  // the hold, not nothing, and the lock is closed
  CHECK(w.real.summary().locks.empty());
}

TEST_CASE("durable_ledger: a lock whose answer was lost is looked up by its key and released") {
  world w;
  tollgate::durable_ledger ledger(w.service, fast(std::nullopt));
  w.service.lose_next_lock_answer = true;  // the hold is taken, the caller sees a timeout
  auto g = ledger.lock("u", 7_cr, "request-key-1");
  REQUIRE_FALSE(g);
  CHECK(w.real.balance("u") == 93_cr);
  CHECK(ledger.unanswered_locks() == 1);
  CHECK(ledger.flush(std::chrono::seconds(5)));
  CHECK(ledger.unanswered_locks() == 0);
  CHECK(w.real.balance("u") == 100_cr);
  CHECK(w.real.summary().locks.empty());

  w.service.down = true;  // refused before reaching the ledger: nothing to look up
  CHECK_FALSE(ledger.lock("u", 1_cr, "request-key-2"));
  CHECK(ledger.unanswered_locks() == 0);
}
