// SPDX-License-Identifier: MIT
// memory_ledger: the embedded, thread-safe, in-process ledger (one process; not shared between servers).
#ifndef TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP
#define TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <time.h>
#endif

#include <fmt/core.h>

#include <tollgate/credits.hpp>
#include <tollgate/detail/flat_index.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_change.hpp>
#include <tollgate/ledgers/ledger_summary.hpp>

namespace tollgate {

namespace detail {
/// The monotonic clock at the kernel's tick resolution (1–4 ms): a fifth of the cost of
/// steady_clock::now(), and lock deadlines are minutes. Same epoch as steady_clock on Linux.
[[nodiscard]] inline std::chrono::steady_clock::time_point coarse_steady_now() noexcept {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
  timespec ts{};
  if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
    return std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#endif
  return std::chrono::steady_clock::now();
}
}  // namespace detail

/// Settings of a memory_ledger.
struct memory_ledger_options {
  /// How long a lock holds funds before they return on their own (a crashed caller strands nothing).
  std::chrono::milliseconds lock_ttl = std::chrono::minutes(5);
  /// How long a closed (settled or expired) lock is remembered after its TTL would have ended, so
  /// that a repeated settle or lock request answers the first result. A lock is thus remembered
  /// for `lock_ttl + retention_grace` after it was taken; later, its id is `lock_not_found`.
  std::chrono::milliseconds retention_grace = std::chrono::minutes(5);
  /// The memory that remembered closed locks may take (about 200 bytes each): beyond it the oldest
  /// are forgotten early. Open locks are never forgotten; they end by settle or expiry.
  std::size_t retention_memory = std::size_t{256} << 20;
  /// Whether settle may charge more than the hold when the user's available balance covers it
  /// (the `overage::charge_actual` policy needs this). Off: such a settle is invalid_amount.
  bool allow_overage = false;
  /// The clock; replaceable so tests can move time.
  std::function<std::chrono::steady_clock::time_point()> now = detail::coarse_steady_now;
  /// Called with every change while it is made, under the lock of the user it touches (so one
  /// user's changes arrive in order): how a journal records the ledger. Keep it cheap.
  std::function<void(const ledger_change&)> on_change{};
};

/// Everything a memory_ledger holds, for persisting it (e.g. the reference credit server's
/// snapshots) and restoring it after a restart. Times are relative to the moment of the export.
struct memory_ledger_state {
  struct user {
    std::string user_id;
    credits available;
  };
  struct credential {
    std::string credential;
    std::string user_id;
  };
  struct lock {
    std::string lock_id;
    std::string user_id;
    credits amount;
    std::chrono::milliseconds expires_in;
    std::string idempotency_key;
  };
  struct settled_lock {
    std::string lock_id;
    credits charged;
    bool expired;
    std::string idempotency_key;
    credits locked;  ///< what the lock held, so replays of its lock request answer the same grant
    /// How much longer the record is remembered; the default means the full retention.
    std::chrono::milliseconds retained_for = std::chrono::milliseconds::max();
    std::string user_id{};  ///< whose lock it was (empty in old files: then its lock request cannot be replayed)
  };
  std::vector<user> users;
  std::vector<credential> credentials;
  std::vector<lock> locks;
  std::vector<settled_lock> settled;  ///< oldest first
};

/// The in-process ledger: users with balances, credentials mapped to users, locks with a TTL.
///
///     tollgate::memory_ledger ledger;
///     ledger.add_user("alice", 100_cr);
///     ledger.add_credential("sk-alice-1", "alice");   // what the request carries
///     auto grant = ledger.lock("sk-alice-1", 5_cr, "request-42");
///     ledger.settle(grant->lock_id, 1.25_cr);          // alice now has 98.75 available
///
/// Users are spread over 64 shards, each with its own mutex, so threads serving different users
/// rarely meet; one user's check-and-hold is atomic under its shard's mutex, so N threads can never
/// overspend. A lock id names its shard and its place in that shard's ring of recent locks, so
/// settle finds it without a lookup. Idempotency keys are scoped to the user who locked.
class memory_ledger {
 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "memory";  ///< the `ledger` label of its metrics
  using async_ledger_concept = async_ledger_t;
  static constexpr bool in_process = true;  // see in_process_ledger: metered locks without a key
  using time_point = std::chrono::steady_clock::time_point;

  explicit memory_ledger(memory_ledger_options options = {}) : options_(std::move(options)) {
    if (!options_.now) options_.now = detail::coarse_steady_now;
    max_retained_ = std::max<std::size_t>(options_.retention_memory / approximate_record_bytes, shard_count);
    const std::uint64_t first = first_position();
    for (std::size_t i = 0; i < shard_count; ++i) {
      shards_[i].index = static_cast<std::uint32_t>(i);
      shards_[i].head = shards_[i].tail = shards_[i].expire_cursor = first;
    }
  }
  memory_ledger(const memory_ledger&) = delete;
  memory_ledger& operator=(const memory_ledger&) = delete;

  /// Adds a user; false when the id is empty or exists already (its balance is left alone), or balance < 0.
  bool add_user(std::string_view user_id, credits balance) {
    if (balance.is_negative() || user_id.empty()) return false;
    const std::uint64_t h = hash_of(user_id);
    shard& s = shard_of(h);
    std::lock_guard guard(s.mutex);
    if (s.find_account(h, user_id) != nullptr) return false;
    s.add_account(h, user_id, balance);
    emit({.what = ledger_change::kind::user_added, .user_id = user_id, .amount = balance});
    return true;
  }

  /// Maps a credential (API key, public id, or the user id itself) to its owner. False when the
  /// user is unknown or the credential belongs to someone else already.
  bool add_credential(std::string_view credential, std::string_view user_id) {
    account* owner = find_account(user_id);
    if (owner == nullptr) return false;
    const std::uint64_t h = hash_of(credential);
    shard& s = shard_of(h);
    std::lock_guard guard(s.mutex);
    if (const account* existing = s.find_credential(h, credential)) return existing == owner;
    s.credentials.push_back({std::string(credential), owner});
    s.credential_index.insert(h, s.credentials.size() - 1);
    emit({.what = ledger_change::kind::credential_added, .user_id = user_id, .credential = credential});
    return true;
  }

  /// Adds to a user's available balance; returns the new available balance.
  result<credits> top_up(std::string_view user_id, credits amount) {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a top-up must not be negative"};
    account* acc = find_account(user_id);
    if (acc == nullptr) return ledger_error{ledger_errc::unknown_credential, "user not found"};
    shard& s = shards_[acc->shard];
    std::lock_guard guard(s.mutex);
    advance(s, options_.now());  // expired holds first, so the balance answered is the one balance() gives
    // available + held is the user's whole money: it must stay representable.
    if (acc->available.micros() + acc->held.micros() > max_micros - amount.micros())
      return ledger_error{ledger_errc::invalid_amount, "the balance would overflow"};
    acc->available += amount;
    emit({.what = ledger_change::kind::topped_up, .user_id = acc->user_id, .amount = amount});
    return acc->available;
  }

  /// The available balance (held funds excluded), or nullopt for an unknown user.
  [[nodiscard]] std::optional<credits> balance(std::string_view user_id) {
    account* acc = find_account(user_id);
    if (acc == nullptr) return std::nullopt;
    shard& s = shards_[acc->shard];
    std::lock_guard guard(s.mutex);
    advance(s, options_.now());
    return acc->available;
  }

  /// The owner of a credential, or nullopt.
  [[nodiscard]] std::optional<std::string> owner_of(std::string_view credential) const {
    const std::uint64_t h = hash_of(credential);
    const shard& s = shard_of(h);
    std::lock_guard guard(s.mutex);
    const account* acc = s.find_credential(h, credential);
    if (acc == nullptr) return std::nullopt;
    return acc->user_id;
  }

  // --- the ledger concept -------------------------------------------------------------------

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a lock amount must not be negative"};
    const std::uint64_t h = hash_of(credential);
    shard* s = &shard_of(h);
    std::unique_lock guard(s->mutex);
    account* acc = s->find_credential(h, credential);
    if (acc == nullptr) {
      guard.unlock();
      // The usual set-up slip: add_user without add_credential. Say so (for the logs; the value
      // itself is never echoed, it may be a secret).
      if (find_account(credential) != nullptr)
        return ledger_error{ledger_errc::unknown_credential,
                            "no credential maps to this value, though a user of that id exists: a user id is a credential "
                            "only once registered (add_credential(id, id))"};
      return ledger_error{ledger_errc::unknown_credential, "user or credential not found"};
    }
    if (acc->shard != s->index) {  // the credential's shard is not its owner's: move over
      guard.unlock();
      s = &shards_[acc->shard];
      guard = std::unique_lock(s->mutex);
    }
    const time_point now = options_.now();
    advance(*s, now);
    const std::uint64_t key_hash = idempotency_key.empty() ? 0 : hash_of(idempotency_key);
    if (!idempotency_key.empty()) {
      if (auto first = s->find_key(key_hash, idempotency_key, acc)) {
        const held_lock& earlier = s->at(*first);
        return lock_grant{id_text(*s, *first), earlier.amount};  // a replay: the first grant, never a second hold
      }
    }
    if (acc->available < amount)
      return ledger_error{ledger_errc::insufficient_funds, fmt::format("{} available, {} requested", acc->available, amount)};
    acc->available -= amount;
    acc->held += amount;
    const std::uint64_t position = push(*s, *acc, amount, now + options_.lock_ttl, idempotency_key, key_hash);
    lock_grant grant{id_text(*s, position), amount};
    if (options_.on_change) emit_locked(*s, s->at(position), grant.lock_id, now);
    return grant;
  }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    if (real_cost.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a real cost must not be negative"};
    const auto where = locate(lock_id);
    if (!where) return not_found();
    shard& s = shards_[where->shard];
    std::lock_guard guard(s.mutex);
    const time_point now = options_.now();
    advance(s, now);
    if (!s.holds(where->position)) return not_found();
    held_lock& lk = s.at(where->position);
    if (lk.state == phase::open && lk.expires <= now) expire(s, where->position);  // out of ring order (imported): expire it now
    if (lk.state == phase::expired)
      return ledger_error{ledger_errc::lock_not_found, "lock expired before it was settled; its hold was returned"};
    if (lk.state == phase::settled) {
      if (lk.charged == real_cost) return settlement{real_cost, true};
      return ledger_error{ledger_errc::conflicting_settlement,
                          fmt::format("lock already settled for {}, not {}", lk.charged, real_cost)};
    }
    account& acc = s.owner(lk);
    if (real_cost > lk.amount) {
      if (!options_.allow_overage)
        return ledger_error{ledger_errc::invalid_amount, fmt::format("real cost {} exceeds the locked {}", real_cost, lk.amount)};
      if (acc.available < real_cost - lk.amount)
        return ledger_error{ledger_errc::insufficient_funds,
                            fmt::format("real cost {} exceeds the locked {} and the balance", real_cost, lk.amount)};
    }
    acc.held -= lk.amount;
    acc.available += lk.amount - real_cost;  // within [0, available + held]: cannot overflow
    lk.state = phase::settled;
    lk.charged = real_cost;
    if (options_.on_change)
      emit({.what = ledger_change::kind::settled, .user_id = acc.user_id, .lock_id = lock_id, .amount = real_cost});
    return settlement{real_cost, false};
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  // The asynchronous forms (async_ledger): the memory ledger never waits, so each completes inline,
  // on the caller's thread, before returning: no thread hop and no allocation beyond the blocking call.
  template <class Handler>
  void async_lock(std::string_view credential, credits amount, std::string_view idempotency_key, Handler&& done) {
    std::forward<Handler>(done)(lock(credential, amount, idempotency_key));
  }
  template <class Handler>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    std::forward<Handler>(done)(settle(lock_id, real_cost));
  }
  template <class Handler>
  void async_release(std::string_view lock_id, Handler&& done) {
    std::forward<Handler>(done)(release(lock_id));
  }

  [[nodiscard]] bool health() const noexcept { return true; }

  // --- inspection -----------------------------------------------------------------------------

  /// Balances of every user and the open locks.
  template <class Summary = ledger_summary>  // a template for the reason export_state is one
  [[nodiscard]] Summary summary() {
    Summary out;
    const time_point now = options_.now();
    for (shard& s : shards_) {
      std::lock_guard guard(s.mutex);
      advance(s, now);
      for (const account& a : s.accounts)
        if (!a.user_id.empty()) out.users.push_back({a.user_id, a.available, a.held});
      for (std::uint64_t p = s.expire_cursor; p < s.tail; ++p) {
        const held_lock& lk = s.at(p);
        if (lk.state == phase::open)
          out.locks.push_back({id_text(s, p), s.owner(lk).user_id, lk.amount,
                               std::chrono::duration_cast<std::chrono::milliseconds>(lk.expires - now)});
      }
    }
    std::sort(out.users.begin(), out.users.end(), [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
    std::sort(out.locks.begin(), out.locks.end(), [](const auto& a, const auto& b) { return a.lock_id < b.lock_id; });
    return out;
  }

  /// A consistent copy of the whole state (after returning expired holds). `at_cut` runs while
  /// every shard is locked, at an instant with no change in flight: every change reported to
  /// `on_change` before it is in the copy, every change reported after it is not.
  ///
  /// (export_state and import_state are templates only so that a TU which never snapshots a ledger
  /// does not instantiate them: their sorting is a tenth of a second of every metering TU's compile.)
  template <class State = memory_ledger_state>
  [[nodiscard]] State export_state(const std::function<void()>& at_cut = {}) {
    std::array<std::unique_lock<std::mutex>, shard_count> guards;
    for (std::size_t i = 0; i < shard_count; ++i) guards[i] = std::unique_lock(shards_[i].mutex);
    const time_point now = options_.now();
    for (shard& s : shards_) advance(s, now);
    if (at_cut) at_cut();
    State out;
    for (const shard& s : shards_) {
      for (const account& a : s.accounts)
        if (!a.user_id.empty()) out.users.push_back({a.user_id, a.available});
      for (const credential_entry& c : s.credentials) out.credentials.push_back({c.credential, c.owner->user_id});
      for (std::uint64_t p = s.head; p < s.tail; ++p) {
        const held_lock& lk = s.at(p);
        const auto left = [&](time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t - now); };
        if (lk.state == phase::open)
          out.locks.push_back({id_text(s, p), s.owner(lk).user_id, lk.amount, left(lk.expires), lk.key});
        else
          out.settled.push_back({id_text(s, p), lk.charged, lk.state == phase::expired, lk.key, lk.amount,
                                 std::max(left(lk.expires + options_.retention_grace), std::chrono::milliseconds(0)),
                                 s.owner(lk).user_id});
      }
    }
    std::sort(out.users.begin(), out.users.end(), [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
    std::sort(out.credentials.begin(), out.credentials.end(), [](const auto& a, const auto& b) { return a.credential < b.credential; });
    std::sort(out.locks.begin(), out.locks.end(), [](const auto& a, const auto& b) { return a.lock_id < b.lock_id; });
    std::stable_sort(out.settled.begin(), out.settled.end(),
                     [](const auto& a, const auto& b) { return a.retained_for < b.retained_for; });
    return out;
  }

  /// Replaces the whole state with `state` (held balances are recomputed from its open locks).
  /// Meant for start-up: calls running at the same time may act on the state being replaced.
  /// Throws std::invalid_argument, naming the record, on a state that does not hold together.
  template <class State = memory_ledger_state>
  void import_state(const std::type_identity_t<State>& state) {
    std::array<std::unique_lock<std::mutex>, shard_count> guards;
    for (std::size_t i = 0; i < shard_count; ++i) guards[i] = std::unique_lock(shards_[i].mutex);
    std::lock_guard alias_guard(aliases_mutex_);
    const time_point now = options_.now();
    for (shard& s : shards_) s.reset(first_position());
    aliases_.clear();
    aliases_index_.clear();
    aliases_by_location_.clear();
    alias_count_.store(0, std::memory_order_relaxed);

    for (const auto& u : state.users) {
      if (u.available.is_negative()) throw std::invalid_argument(fmt::format("user '{}' has a negative balance", u.user_id));
      const std::uint64_t h = hash_of(u.user_id);
      shard& s = shard_of(h);
      if (s.find_account(h, u.user_id) != nullptr) throw std::invalid_argument(fmt::format("user '{}' appears twice", u.user_id));
      s.add_account(h, u.user_id, u.available);
    }
    const auto owner_named = [&](const std::string& user_id, std::string_view what) -> account& {
      account* acc = find_account_locked(user_id);
      if (acc == nullptr) throw std::invalid_argument(fmt::format("{} names the unknown user '{}'", what, user_id));
      return *acc;
    };
    for (const auto& c : state.credentials) {
      account& owner = owner_named(c.user_id, "a credential");
      const std::uint64_t h = hash_of(c.credential);
      shard& s = shard_of(h);
      if (s.find_credential(h, c.credential) != nullptr) throw std::invalid_argument("a credential appears twice");
      s.credentials.push_back({c.credential, &owner});
      s.credential_index.insert(h, s.credentials.size() - 1);
    }
    // Open and closed locks go back in the order they would have been taken (by deadline).
    struct pending {
      time_point expires;
      const typename State::lock* open;
      const typename State::settled_lock* closed;
    };
    std::vector<pending> all;
    for (const auto& l : state.locks) {
      if (!within_reason(l.expires_in)) throw std::invalid_argument(fmt::format("lock {} expires in an impossible time", l.lock_id));
      all.push_back({now + l.expires_in, &l, nullptr});
    }
    for (const auto& c : state.settled) {
      const auto kept = c.retained_for == std::chrono::milliseconds::max() ? options_.lock_ttl + options_.retention_grace : c.retained_for;
      if (!within_reason(kept) || c.charged.is_negative() || c.locked.is_negative())
        throw std::invalid_argument(fmt::format("settled lock {} has an impossible time or amount", c.lock_id));
      all.push_back({now + kept - options_.retention_grace, nullptr, &c});
    }
    std::stable_sort(all.begin(), all.end(), [](const pending& a, const pending& b) { return a.expires < b.expires; });
    for (const pending& p : all) {
      if (p.open != nullptr) {
        const auto& l = *p.open;
        account& acc = owner_named(l.user_id, fmt::format("lock {}", l.lock_id));
        if (l.amount.is_negative() || acc.held.micros() > max_micros - acc.available.micros() - l.amount.micros())
          throw std::invalid_argument(fmt::format("lock {} holds an invalid amount", l.lock_id));
        acc.held += l.amount;
        place_imported(acc, l.lock_id, l.amount, p.expires, l.idempotency_key, phase::open, credits{});
      } else {
        const auto& c = *p.closed;
        account* acc = c.user_id.empty() ? nullptr : &owner_named(c.user_id, fmt::format("settled lock {}", c.lock_id));
        place_imported_closed(acc, c, p.expires);
      }
    }
  }

  /// Replays one change recorded by `on_change` (a journal after a restart), exactly, without
  /// reaping by the clock and without reporting it to `on_change`. Throws std::invalid_argument
  /// when the change does not fit the state.
  template <class Change = ledger_change>  // a template for the reason export_state is one
  void apply(const std::type_identity_t<Change>& change) {
    using kind = ledger_change::kind;
    const auto fail = [&](std::string_view why) {
      throw std::invalid_argument(fmt::format("cannot replay {} of user '{}': {}", to_string(change.what), change.user_id, why));
    };
    switch (change.what) {
      case kind::user_added: {
        if (change.amount.is_negative()) fail("negative balance");
        const std::uint64_t h = hash_of(change.user_id);
        shard& s = shard_of(h);
        std::lock_guard guard(s.mutex);
        if (s.find_account(h, change.user_id) != nullptr) fail("the user exists already");
        s.add_account(h, change.user_id, change.amount);
        return;
      }
      case kind::credential_added: {
        account* owner = find_account(change.user_id);
        if (owner == nullptr) fail("unknown user");
        const std::uint64_t h = hash_of(change.credential);
        shard& s = shard_of(h);
        std::lock_guard guard(s.mutex);
        if (const account* existing = s.find_credential(h, change.credential)) {
          if (existing != owner) fail("the credential belongs to another user");
          return;
        }
        s.credentials.push_back({std::string(change.credential), owner});
        s.credential_index.insert(h, s.credentials.size() - 1);
        return;
      }
      case kind::topped_up: {
        account* acc = find_account(change.user_id);
        if (acc == nullptr) fail("unknown user");
        std::lock_guard guard(shards_[acc->shard].mutex);
        if (change.amount.is_negative() || acc->available.micros() + acc->held.micros() > max_micros - change.amount.micros())
          fail("invalid amount");
        acc->available += change.amount;
        return;
      }
      case kind::locked: {
        account* acc = find_account(change.user_id);
        if (acc == nullptr) fail("unknown user");
        std::scoped_lock guard(shards_[acc->shard].mutex, aliases_mutex_);
        if (change.amount.is_negative() || acc->available < change.amount) fail("the hold is not covered by the balance");
        if (find_locked(change.lock_id)) fail(fmt::format("lock {} exists already", change.lock_id));
        // Compared before subtracting: a wild expiry (a damaged journal) must not overflow the difference.
        const auto wall_now = std::chrono::system_clock::now();
        const auto ten_years = std::chrono::hours(24 * 3650);
        if (change.expires_at > wall_now + ten_years || change.expires_at < wall_now - ten_years) fail("an impossible expiry time");
        const auto left = change.expires_at - wall_now;
        acc->available -= change.amount;
        acc->held += change.amount;
        const time_point expires = options_.now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
        place_imported(*acc, change.lock_id, change.amount, expires, change.idempotency_key, phase::open, credits{});
        return;
      }
      case kind::settled:
      case kind::expired: {
        const auto where = locate(change.lock_id);
        if (!where) fail(fmt::format("unknown lock {}", change.lock_id));
        shard& s = shards_[where->shard];
        std::lock_guard guard(s.mutex);
        if (!s.holds(where->position) || s.at(where->position).state != phase::open) fail(fmt::format("lock {} is not open", change.lock_id));
        held_lock& lk = s.at(where->position);
        account& acc = s.owner(lk);
        if (change.what == kind::expired) {
          acc.held -= lk.amount;
          acc.available += lk.amount;
          lk.state = phase::expired;
          return;
        }
        if (change.amount.is_negative() || acc.available < change.amount - lk.amount) fail("the charge is not covered");
        acc.held -= lk.amount;
        acc.available += lk.amount - change.amount;
        lk.state = phase::settled;
        lk.charged = change.amount;
        return;
      }
    }
    fail("unknown kind of change");
  }

  /// Returns the funds of every expired lock now; how many there were. (Each call also does it
  /// for the shard it touches.)
  std::size_t reap_expired() {
    std::size_t reaped = 0;
    const time_point now = options_.now();
    for (shard& s : shards_) {
      std::lock_guard guard(s.mutex);
      reaped += advance(s, now);
    }
    return reaped;
  }

  /// How many locks are remembered now, open or closed: the ledger's memory follows this number,
  /// which follows the request rate times the retention, never the requests served in all.
  [[nodiscard]] std::size_t remembered_locks() const {
    std::size_t n = 0;
    for (const shard& s : shards_) {
      std::lock_guard guard(s.mutex);
      n += static_cast<std::size_t>(s.tail - s.head);
    }
    return n;
  }

 private:
  static constexpr std::size_t shard_count = 64;  // a power of two; its log2 is the bits a lock id spends on it
  static constexpr unsigned shard_bits = 6;
  static constexpr unsigned position_bits = 54;  // 6 + 54 = 60 bits = 12 base32 digits: "lk_" + 12 fits a short string
  static constexpr std::size_t approximate_record_bytes = 200;
  static constexpr std::int64_t max_micros = std::numeric_limits<std::int64_t>::max();
  static constexpr std::string_view alphabet = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford's base32

  enum class phase : std::uint8_t { open, settled, expired };

  struct account {
    credits available;
    credits held;
    std::string user_id;  // empty for the stand-in owner of an imported record that named none
    std::uint32_t shard = 0;
    std::uint32_t index = 0;  // its place in its shard's accounts
  };
  struct credential_entry {
    std::string credential;
    account* owner;
  };
  // One slot of a shard's ring of locks: one cache line. The key keeps its capacity when reused.
  struct alignas(64) held_lock {
    credits amount;
    credits charged;
    time_point expires;
    std::string key;
    std::uint32_t owner = 0;  // index into the shard's accounts
    phase state = phase::open;
    bool aliased = false;  // imported under an id of another form: see aliases_
  };
  static_assert(sizeof(held_lock) == 64, "a slot is one cache line");

  // A shard's recent locks by position, in blocks of 1024 slots: position p lives in block
  // number p >> 10, kept in a circular table of block pointers. A block is added as the tail enters
  // it and recycled once the head leaves it, so the ring never copies its locks to grow (doubling a
  // million-lock ring took 50 ms, under the shard's lock); only the table of pointers doubles, and a
  // few spare blocks are kept, so steady traffic allocates nothing.
  struct lock_ring {
    static constexpr unsigned block_bits = 10;
    static constexpr std::uint64_t block_slots = std::uint64_t{1} << block_bits;
    static constexpr std::size_t max_spares = 4;
    using block = std::unique_ptr<held_lock[]>;

    [[nodiscard]] held_lock& at(std::uint64_t p) noexcept { return table[(p >> block_bits) & (table.size() - 1)][p & (block_slots - 1)]; }
    [[nodiscard]] const held_lock& at(std::uint64_t p) const noexcept {
      return table[(p >> block_bits) & (table.size() - 1)][p & (block_slots - 1)];
    }
    // Makes room for position `tail`, the next one written; [head, tail) are live.
    void extend_to(std::uint64_t head, std::uint64_t tail) {
      if (head == tail) reset_to(tail);  // empty: positions may have jumped (an import)
      const std::uint64_t needed = tail >> block_bits;
      if (needed < first_block + count) return;
      if (count == table.size()) grow_table();
      block& slot = table[needed & (table.size() - 1)];
      if (!spares.empty()) {
        slot = std::move(spares.back());
        spares.pop_back();
      } else {
        slot = std::make_unique<held_lock[]>(block_slots);
      }
      ++count;
    }
    // Recycles the blocks wholly below `head`.
    void release_below(std::uint64_t head) noexcept {
      while (count > 0 && (first_block + 1) << block_bits <= head) {
        block& slot = table[first_block & (table.size() - 1)];
        if (spares.size() < max_spares) spares.push_back(std::move(slot));  // capacity reserved: no allocation
        slot.reset();
        ++first_block;
        --count;
      }
    }
    void reset_to(std::uint64_t position) noexcept {
      release_below(std::uint64_t{0} - 1);
      first_block = position >> block_bits;
    }

    void grow_table() {
      std::vector<block> bigger(table.empty() ? 4 : table.size() * 2);
      for (std::uint64_t b = first_block; b < first_block + count; ++b)
        bigger[b & (bigger.size() - 1)] = std::move(table[b & (table.size() - 1)]);
      table = std::move(bigger);
      if (spares.capacity() < max_spares) spares.reserve(max_spares);
    }

    std::vector<block> table;     // a power-of-two size; block number b at b & (size - 1)
    std::uint64_t first_block = 0;  // the oldest live block's number
    std::uint64_t count = 0;        // live blocks
    std::vector<block> spares;
  };

  // A shard: the users hashed to it, the credentials hashed to it, and the ring of its users'
  // recent locks at positions [head, tail). Positions below expire_cursor are closed; those at or
  // past it are checked for expiry in order (a lock's deadline is its start plus the one TTL).
  struct alignas(64) shard {
    mutable std::mutex mutex;
    std::uint32_t index = 0;
    std::deque<account> accounts;  // stable addresses: credentials and locks point into it
    detail::flat_index account_index;
    std::vector<credential_entry> credentials;
    detail::flat_index credential_index;
    lock_ring ring;
    std::uint64_t head = 0, tail = 0, expire_cursor = 0;
    detail::flat_index key_index;  // idempotency key hash → position
    int unpublished = 0;           // change of tail - head not yet added to the ledger's total

    [[nodiscard]] held_lock& at(std::uint64_t p) noexcept { return ring.at(p); }
    [[nodiscard]] const held_lock& at(std::uint64_t p) const noexcept { return ring.at(p); }
    [[nodiscard]] bool holds(std::uint64_t p) const noexcept { return p >= head && p < tail; }
    [[nodiscard]] account& owner(const held_lock& lk) noexcept { return accounts[lk.owner]; }
    [[nodiscard]] const account& owner(const held_lock& lk) const noexcept { return accounts[lk.owner]; }

    account* find_account(std::uint64_t h, std::string_view user_id) {
      auto i = account_index.find_if(h, [&](std::uint64_t k) { return accounts[k].user_id == user_id; });
      return i ? &accounts[*i] : nullptr;
    }
    const account* find_account(std::uint64_t h, std::string_view user_id) const {
      auto i = account_index.find_if(h, [&](std::uint64_t k) { return accounts[k].user_id == user_id; });
      return i ? &accounts[*i] : nullptr;
    }
    account* find_credential(std::uint64_t h, std::string_view credential) const {
      auto i = credential_index.find_if(h, [&](std::uint64_t k) { return credentials[k].credential == credential; });
      return i ? credentials[*i].owner : nullptr;
    }
    std::optional<std::uint64_t> find_key(std::uint64_t h, std::string_view key, const account* owner) {
      return key_index.find_if(h, [&](std::uint64_t p) { return &accounts[at(p).owner] == owner && at(p).key == key; });
    }
    account& add_account(std::uint64_t h, std::string_view user_id, credits balance) {
      accounts.push_back(account{balance, credits{}, std::string(user_id), index, static_cast<std::uint32_t>(accounts.size())});
      if (!user_id.empty()) account_index.insert(h, accounts.size() - 1);
      return accounts.back();
    }
    // Forgets everything; accounts stay allocated (a racing call may still point at one).
    void reset(std::uint64_t first) {
      retired_accounts.push_back(std::move(accounts));
      accounts.clear();  // empty again after the move (`= {}` would instantiate deque's range assign)
      account_index.clear();
      credentials.clear();
      credential_index.clear();
      key_index.clear();
      ring.reset_to(first);
      head = tail = expire_cursor = first;
      unpublished = 0;
    }
    std::vector<std::deque<account>> retired_accounts;
  };

  struct lock_location {
    std::size_t shard;
    std::uint64_t position;
  };

  // --- hashing and ids ---------------------------------------------------------------------------

  [[nodiscard]] static std::uint64_t hash_of(std::string_view text) noexcept { return std::hash<std::string_view>{}(text); }
  [[nodiscard]] shard& shard_of(std::uint64_t h) noexcept { return shards_[(h * 0x9E3779B97F4A7C15ULL) >> (64 - shard_bits)]; }
  [[nodiscard]] const shard& shard_of(std::uint64_t h) const noexcept {
    return shards_[(h * 0x9E3779B97F4A7C15ULL) >> (64 - shard_bits)];
  }

  // Positions start from the wall clock (2^24 per second since 2026), so a restarted process
  // never reissues an id an earlier one handed out unless that one averaged 16 M locks/s per shard.
  [[nodiscard]] static std::uint64_t first_position() noexcept {
    const auto since = std::chrono::system_clock::now().time_since_epoch() - std::chrono::seconds(1'767'225'600);
    const auto seconds = std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(since).count(), 0);
    return (static_cast<std::uint64_t>(seconds) << 24) & ((std::uint64_t{1} << (position_bits - 1)) - 1);
  }

  [[nodiscard]] static std::string native_id(std::size_t shard_index, std::uint64_t position) {
    std::uint64_t bits = (position << shard_bits) | shard_index;
    std::string out(15, '0');
    out[0] = 'l';
    out[1] = 'k';
    out[2] = '_';
    for (int i = 14; i >= 3; --i, bits >>= 5) out[static_cast<std::size_t>(i)] = alphabet[bits & 31];
    return out;
  }
  [[nodiscard]] std::string id_text(const shard& s, std::uint64_t position) const {
    if (!s.at(position).aliased) return native_id(s.index, position);
    std::lock_guard guard(aliases_mutex_);
    return alias_at_locked(s.index, position);
  }
  [[nodiscard]] static std::uint64_t location_key(std::size_t shard_index, std::uint64_t position) noexcept {
    return (position << shard_bits) | shard_index;
  }
  [[nodiscard]] std::string alias_at_locked(std::size_t shard_index, std::uint64_t position) const {
    const std::uint64_t where = location_key(shard_index, position);
    auto i = aliases_by_location_.find_if(where, [&](std::uint64_t k) {
      return aliases_[k].second.shard == shard_index && aliases_[k].second.position == position;
    });
    return i ? aliases_[*i].first : std::string();
  }
  [[nodiscard]] static std::optional<lock_location> parse_native(std::string_view id) noexcept {
    if (id.size() != 15 || id.substr(0, 3) != "lk_") return std::nullopt;
    std::uint64_t bits = 0;
    for (char c : id.substr(3)) {
      const auto digit = alphabet.find(c);
      if (digit == std::string_view::npos) return std::nullopt;
      bits = (bits << 5) | digit;
    }
    return lock_location{static_cast<std::size_t>(bits & (shard_count - 1)), bits >> shard_bits};
  }

  // Where a lock id lives: an imported id through the alias table, else by its own digits.
  [[nodiscard]] std::optional<lock_location> locate(std::string_view id) {
    if (alias_count_.load(std::memory_order_acquire) != 0) {
      std::lock_guard guard(aliases_mutex_);
      if (auto found = find_alias_locked(id)) return found;
    }
    return parse_native(id);
  }
  [[nodiscard]] std::optional<lock_location> find_alias_locked(std::string_view id) const {
    auto i = aliases_index_.find_if(hash_of(id), [&](std::uint64_t k) { return aliases_[k].first == id; });
    if (!i) return std::nullopt;
    return aliases_[*i].second;
  }
  // Under the owner's shard lock and aliases_mutex_: whether an id names a lock held now.
  [[nodiscard]] bool find_locked(std::string_view id) const {
    auto where = find_alias_locked(id);
    if (!where) where = parse_native(id);
    if (!where) return false;
    const shard& s = shards_[where->shard];
    if (!s.holds(where->position)) return false;
    return s.at(where->position).aliased ? alias_at_locked(where->shard, where->position) == id
                                         : native_id(where->shard, where->position) == id;
  }

  account* find_account(std::string_view user_id) {
    const std::uint64_t h = hash_of(user_id);
    shard& s = shard_of(h);
    std::lock_guard guard(s.mutex);
    return s.find_account(h, user_id);  // accounts never move or die: the pointer outlives the lock
  }
  account* find_account_locked(std::string_view user_id) {
    const std::uint64_t h = hash_of(user_id);
    return shard_of(h).find_account(h, user_id);
  }

  // --- the ring ------------------------------------------------------------------------------------

  std::uint64_t push(shard& s, const account& owner, credits amount, time_point expires, std::string_view key,
                     std::uint64_t key_hash) {
    s.ring.extend_to(s.head, s.tail);
    const std::uint64_t p = s.tail++;
    held_lock& lk = s.at(p);
    lk.owner = owner.index;
    lk.amount = amount;
    lk.charged = credits{};
    lk.expires = expires;
    lk.state = phase::open;
    lk.aliased = false;
    lk.key.assign(key);
    if (!key.empty()) s.key_index.insert(key_hash, p);
    note_retained(s, +1);
    return p;
  }

  // Expires due locks in ring order, then forgets closed locks past their retention (or the
  // oldest ones while the ledger is over its memory budget). Returns how many locks expired.
  std::size_t advance(shard& s, time_point now) {
    std::size_t expired = 0;
    for (; s.expire_cursor < s.tail; ++s.expire_cursor) {
      held_lock& lk = s.at(s.expire_cursor);
      if (lk.state == phase::open) {
        if (lk.expires > now) break;
        expire(s, s.expire_cursor);
        ++expired;
      }
    }
    while (s.head < s.expire_cursor) {
      held_lock& lk = s.at(s.head);
      if (lk.expires + options_.retention_grace > now && !over_budget()) break;
      if (!lk.key.empty()) s.key_index.erase(hash_of(lk.key), s.head);
      if (lk.aliased) forget_alias(s.index, s.head);
      ++s.head;
      note_retained(s, -1);
    }
    s.ring.release_below(s.head);
    return expired;
  }

  void expire(shard& s, std::uint64_t position) {
    held_lock& lk = s.at(position);
    account& acc = s.owner(lk);
    acc.held -= lk.amount;
    acc.available += lk.amount;
    lk.state = phase::expired;
    if (options_.on_change) emit({.what = ledger_change::kind::expired, .user_id = acc.user_id, .lock_id = id_text(s, position)});
  }

  // Places a lock read back from a snapshot or a journal: under its own id when that id is the
  // next position of its owner's shard (or the shard is empty), else under an alias.
  void place_imported(account& owner, std::string_view id, credits amount, time_point expires, std::string_view key,
                      phase state, credits charged) {
    shard& s = shards_[owner.shard];
    const auto native = parse_native(id);
    const bool own = native && native->shard == owner.shard && native->position < (std::uint64_t{1} << position_bits);
    if (own && s.tail == s.head && s.head != native->position) s.head = s.tail = s.expire_cursor = native->position;
    const bool in_place = own && native->position == s.tail;
    const std::uint64_t key_hash = key.empty() ? 0 : hash_of(key);
    const std::uint64_t p = push(s, owner, amount, expires, key, key_hash);
    held_lock& lk = s.at(p);
    lk.state = state;
    lk.charged = charged;
    if (!in_place) {
      lk.aliased = true;
      aliases_.push_back({std::string(id), lock_location{owner.shard, p}});
      aliases_index_.insert(hash_of(id), aliases_.size() - 1);
      aliases_by_location_.insert(location_key(owner.shard, p), aliases_.size() - 1);
      alias_count_.fetch_add(1, std::memory_order_release);
    }
  }

  void place_imported_closed(account* owner, const memory_ledger_state::settled_lock& c, time_point expires) {
    // A record without its owner (an old file) still answers settle replays, from a shard of its own.
    if (owner == nullptr) owner = &shards_[hash_of(c.lock_id) & (shard_count - 1)].add_account(0, {}, credits{});
    place_imported(*owner, c.lock_id, c.locked, expires, owner->user_id.empty() ? std::string_view{} : std::string_view(c.idempotency_key),
                   c.expired ? phase::expired : phase::settled, c.charged);
  }

  void forget_alias(std::size_t shard_index, std::uint64_t position) {
    std::lock_guard guard(aliases_mutex_);
    const std::uint64_t where = location_key(shard_index, position);
    auto i = aliases_by_location_.find_if(where, [&](std::uint64_t k) {
      return aliases_[k].second.shard == shard_index && aliases_[k].second.position == position;
    });
    if (!i) return;
    aliases_by_location_.erase(where, *i);
    aliases_index_.erase(hash_of(aliases_[*i].first), *i);
    aliases_[*i].first.clear();  // the entry stays; the table only lives after an import, for one retention
    alias_count_.fetch_sub(1, std::memory_order_release);
  }

  // The budget is checked against a total that each shard publishes every 64 changes, so the
  // shards do not all write one shared counter on every lock.
  void note_retained(shard& s, int delta) noexcept {
    s.unpublished += delta;
    if (s.unpublished >= 64 || s.unpublished <= -64) {
      retained_.fetch_add(s.unpublished, std::memory_order_relaxed);
      s.unpublished = 0;
    }
  }
  [[nodiscard]] bool over_budget() const noexcept {
    return retained_.load(std::memory_order_relaxed) > static_cast<std::int64_t>(max_retained_);
  }

  // --- change reports -------------------------------------------------------------------------------

  void emit(ledger_change change) const {
    if (!options_.on_change) return;
    change.at = std::chrono::system_clock::now();
    options_.on_change(change);
  }
  void emit_locked(const shard& s, const held_lock& lk, std::string_view id, time_point now) const {
    const auto wall = std::chrono::system_clock::now();
    emit({.what = ledger_change::kind::locked, .user_id = s.owner(lk).user_id, .lock_id = id, .idempotency_key = lk.key,
             .amount = lk.amount,
             .expires_at = wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(lk.expires - now)});
  }

  // A relative time from a file: beyond ten years it is damage, and converting it could overflow.
  [[nodiscard]] static bool within_reason(std::chrono::milliseconds d) noexcept {
    return d <= std::chrono::hours(24 * 3650) && d >= -std::chrono::hours(24 * 3650);
  }

  static ledger_error not_found() {
    return ledger_error{ledger_errc::lock_not_found,
                        "lock not found: unknown, or closed longer ago than the ledger remembers"};
  }

  memory_ledger_options options_;
  std::size_t max_retained_ = 0;
  std::array<shard, shard_count> shards_;
  std::atomic<std::int64_t> retained_{0};
  mutable std::mutex aliases_mutex_;  // after any shard's mutex, never before
  std::vector<std::pair<std::string, lock_location>> aliases_;
  detail::flat_index aliases_index_;        // hash of the imported id → entry
  detail::flat_index aliases_by_location_;  // shard and position → entry
  std::atomic<std::size_t> alias_count_{0};
};

static_assert(ledger<memory_ledger>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP
