// SPDX-License-Identifier: MIT
// The ledger conformance suite: every requirement of the ledger concept, checked against a real
// ledger. Test-framework agnostic: it returns a report, so one test file runs it on any ledger.
#ifndef TOLLGATE_TESTING_LEDGER_CONFORMANCE_HPP
#define TOLLGATE_TESTING_LEDGER_CONFORMANCE_HPP

#include <atomic>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate::testing {

/// What the suite needs besides the ledger: a funded user to spend from, a way to read a user's
/// available balance, and a way to make every open hold outlive its TTL. Administration is not
/// part of the ledger concept, so each ledger's fixture says how it is done.
///
///     struct my_fixture {
///       my_ledger& ledger();
///       std::string new_user(tollgate::credits balance);   // returns a credential of a new user
///       tollgate::result<tollgate::credits> available(const std::string& credential);
///       void expire_holds();                                // e.g. advance a fake clock past the TTL
///       bool allows_overage() const;                        // may a cost exceed its hold?
///     };
template <class F>
concept ledger_fixture = requires(F& f, const F& cf, const std::string& credential, credits amount) {
  requires ledger<std::remove_cvref_t<decltype(f.ledger())>>;
  { f.new_user(amount) } -> std::convertible_to<std::string>;
  { f.available(credential) } -> std::same_as<result<credits>>;
  f.expire_holds();
  { cf.allows_overage() } -> std::convertible_to<bool>;
};

/// The suite's findings: one line per requirement that did not hold, naming it.
struct conformance_report {
  std::vector<std::string> failures;
  int checks = 0;
  [[nodiscard]] bool ok() const noexcept { return failures.empty(); }
  /// Every failure, one per line (empty when ok).
  [[nodiscard]] std::string text() const {
    std::string out;
    for (const auto& f : failures) out += f + "\n";
    return out;
  }
};

/// Settings of the suite.
struct conformance_options {
  int threads = 8;             ///< concurrent callers in the concurrency requirement
  int rounds_per_thread = 25;  ///< lock + settle pairs each
};

namespace detail {

class conformance_run {
 public:
  explicit conformance_run(conformance_report& report) : report_(report) {}

  void expect(bool condition, std::string_view requirement, std::string_view detail = {}) {
    ++report_.checks;
    if (!condition) report_.failures.push_back(detail.empty() ? std::string(requirement) : fmt::format("{}: {}", requirement, detail));
  }
  template <class T>
  void expect_error(const result<T>& r, ledger_errc code, std::string_view requirement) {
    if (r) return expect(false, requirement, fmt::format("succeeded, expected {}", to_string(code)));
    expect(r.error().code == code, requirement, fmt::format("failed with {} ({}), expected {}", to_string(r.error().code), r.error().message,
                                                            to_string(code)));
  }
  template <class Fixture>
  void expect_available(Fixture& f, const std::string& credential, credits expected, std::string_view requirement) {
    const auto b = f.available(credential);
    if (!b) return expect(false, requirement, fmt::format("balance unreadable: {}", b.error().message));
    expect(*b == expected, requirement, fmt::format("available {}, expected {}", *b, expected));
  }

 private:
  conformance_report& report_;
};

}  // namespace detail

/// Runs every requirement of the ledger concept against `fixture.ledger()` and reports which did not
/// hold. Each requirement uses users of its own (`new_user`), so the ledger may hold other data.
/// Never throws for a ledger's misbehaviour (an exception escaping the ledger is reported too).
template <ledger_fixture Fixture>
conformance_report check_ledger_conformance(Fixture& fixture, conformance_options options = {}) {
  conformance_report report;
  detail::conformance_run t(report);
  auto& l = fixture.ledger();
  int key_counter = 0;
  auto fresh_key = [&] { return fmt::format("conformance-{}", ++key_counter); };  // users are fresh too, so keys never meet old ones
  using namespace tollgate::literals;

  try {
    t.expect(l.health(), "health() is true for a ledger that can serve");

    {  // A lock holds its amount: it leaves the available balance until settled.
      const std::string user = fixture.new_user(10_cr);
      const auto grant = l.lock(user, 4_cr, fresh_key());
      t.expect(grant.has_value(), "lock within the balance is granted", grant ? "" : grant.error().message);
      if (grant) {
        t.expect(!grant->lock_id.empty(), "a grant carries a lock id");
        t.expect(grant->amount == 4_cr, "a grant holds the amount asked for");
        t.expect_available(fixture, user, 6_cr, "a held amount is not available");
        const auto s = l.settle(grant->lock_id, 1.5_cr);
        t.expect(s.has_value(), "settle of an open lock succeeds", s ? "" : s.error().message);
        if (s) {
          t.expect(s->charged == 1.5_cr && !s->replayed, "settle charges the real cost, not replayed");
          t.expect_available(fixture, user, 8.5_cr, "settle returns the rest of the hold");
          const auto again = l.settle(grant->lock_id, 1.5_cr);
          t.expect(again && again->replayed && again->charged == 1.5_cr, "a repeated settle with the same cost replays the first result");
          t.expect_available(fixture, user, 8.5_cr, "a replayed settle charges nothing more");
          t.expect_error(l.settle(grant->lock_id, 2_cr), ledger_errc::conflicting_settlement,
                         "a settle with another cost of a settled lock is conflicting_settlement");
          t.expect_error(l.release(grant->lock_id), ledger_errc::conflicting_settlement,
                         "releasing a lock settled for a cost is conflicting_settlement");
          t.expect_available(fixture, user, 8.5_cr, "refused settles move nothing");
        }
      }
    }

    {  // Refusals move nothing.
      const std::string user = fixture.new_user(3_cr);
      t.expect_error(l.lock(user, 3.000001_cr, fresh_key()), ledger_errc::insufficient_funds, "a lock above the balance is insufficient_funds");
      t.expect_error(l.lock(user, credits::from_micros(-1), fresh_key()), ledger_errc::invalid_amount, "a negative lock is invalid_amount");
      t.expect_error(l.lock("tollgate-conformance-no-such-credential", 1_cr, fresh_key()), ledger_errc::unknown_credential,
                     "a lock for an unknown credential is unknown_credential");
      t.expect_available(fixture, user, 3_cr, "refused locks hold nothing");
      const auto all = l.lock(user, 3_cr, fresh_key());
      t.expect(all.has_value(), "the whole balance can be locked");
      t.expect_error(l.lock(user, 0.000001_cr, fresh_key()), ledger_errc::insufficient_funds, "nothing is left after locking everything");
      if (all) {
        t.expect_error(l.settle(all->lock_id, credits::from_micros(-1)), ledger_errc::invalid_amount, "a negative cost is invalid_amount");
        if (!fixture.allows_overage())
          t.expect_error(l.settle(all->lock_id, 3.5_cr), ledger_errc::invalid_amount, "a cost above the hold is invalid_amount");
        const auto r = l.release(all->lock_id);
        t.expect(r && r->charged == 0_cr, "release settles for nothing");
        t.expect_available(fixture, user, 3_cr, "release returns the whole hold");
        const auto again = l.release(all->lock_id);
        t.expect(again && again->replayed, "a repeated release replays");
      }
      t.expect_error(l.settle("lk_tollgate_conformance_never_issued", 1_cr), ledger_errc::lock_not_found,
                     "settle of an unknown lock is lock_not_found");
      t.expect_error(l.release("lk_tollgate_conformance_never_issued"), ledger_errc::lock_not_found,
                     "release of an unknown lock is lock_not_found");
    }

    {  // An idempotency key names one lock: a repeated lock returns the first grant, never a second hold.
      const std::string user = fixture.new_user(10_cr);
      const std::string key = fresh_key();
      const auto first = l.lock(user, 2_cr, key);
      const auto second = l.lock(user, 2_cr, key);
      t.expect(first && second && first->lock_id == second->lock_id, "a repeated idempotency key returns the first lock");
      t.expect_available(fixture, user, 8_cr, "a repeated idempotency key holds once");
      const auto other = l.lock(user, 2_cr, fresh_key());
      t.expect(other && first && other->lock_id != first->lock_id, "another key is another lock");
      t.expect_available(fixture, user, 6_cr, "two keys hold twice");
      if (first) (void)l.release(first->lock_id);
      if (other) (void)l.release(other->lock_id);
      t.expect_available(fixture, user, 10_cr, "releasing both returns both");
    }

    {  // Holds expire on their own: the funds return and the lock can no longer be settled.
      const std::string user = fixture.new_user(5_cr);
      const auto grant = l.lock(user, 5_cr, fresh_key());
      t.expect(grant.has_value(), "lock before expiry is granted");
      fixture.expire_holds();
      t.expect_available(fixture, user, 5_cr, "an expired hold returns its funds");
      if (grant) t.expect_error(l.settle(grant->lock_id, 1_cr), ledger_errc::lock_not_found, "an expired lock cannot be settled");
      t.expect_available(fixture, user, 5_cr, "a settle of an expired lock charges nothing");
    }

    {  // Concurrency: many callers on one balance end exact and never overspend.
      const int threads = options.threads, rounds = options.rounds_per_thread;
      const credits hold = 1_cr, cost = 0.25_cr;
      // Room for all but a few of the holds at once, so some locks are refused under contention.
      const credits balance = cost * (threads * rounds) + credits::whole(threads / 2);
      const std::string user = fixture.new_user(balance);
      std::atomic<int> settled{0}, refused{0}, errors{0};
      std::vector<std::thread> pool;
      const std::string prefix = fresh_key();
      for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
          for (int r = 0; r < rounds; ++r) {
            try {
              const auto grant = l.lock(user, hold, fmt::format("{}-{}-{}", prefix, i, r));
              if (!grant) {
                ++(grant.error().code == ledger_errc::insufficient_funds ? refused : errors);
                continue;
              }
              ++(l.settle(grant->lock_id, cost) ? settled : errors);
            } catch (...) {
              ++errors;
            }
          }
        });
      }
      for (auto& th : pool) th.join();
      t.expect(errors == 0, "concurrent locks and settles fail only for insufficient funds", fmt::format("{} other failures", errors.load()));
      t.expect(settled + refused == threads * rounds, "every concurrent call is answered");
      t.expect_available(fixture, user, balance - cost * settled.load(),
                         "concurrent locks and settles end exact: balance minus what was charged");
    }
  } catch (const std::exception& e) {
    t.expect(false, "the ledger throws no exception", e.what());
  }
  return report;
}

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTING_LEDGER_CONFORMANCE_HPP
