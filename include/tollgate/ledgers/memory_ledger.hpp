// memory_ledger: the embedded, thread-safe, in-process ledger (one process; not shared between servers).
#ifndef TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP
#define TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tollgate/credits.hpp>
#include <tollgate/detail/random_id.hpp>
#include <tollgate/ledgers/ledger.hpp>

namespace tollgate {

/// Settings of a memory_ledger.
struct memory_ledger_options {
  /// How long a lock holds funds before they return on their own (a crashed caller strands nothing).
  std::chrono::milliseconds lock_ttl = std::chrono::minutes(5);
  /// Settled (and expired) locks remembered for idempotent replays of settle.
  std::size_t settled_history = 100'000;
  /// Whether settle may charge more than the hold when the user's available balance covers it
  /// (the `overage::charge_actual` policy needs this). Off: such a settle is invalid_amount.
  bool allow_overage = false;
  /// The clock; replaceable so tests can move time.
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
};

/// A user's balances: `available` can be locked; `held` is locked by open locks.
struct user_balance {
  std::string user_id;
  credits available;
  credits held;
};

/// An open lock as summary() lists it.
struct open_lock {
  std::string lock_id;
  std::string user_id;
  credits amount;
  std::chrono::milliseconds expires_in;
};

/// Everything a memory_ledger holds, for persisting it (e.g. the reference credit server's state
/// file) and restoring it after a restart. Times are relative, so a restore on another clock works.
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
  };
  std::vector<user> users;
  std::vector<credential> credentials;
  std::vector<lock> locks;
  std::vector<settled_lock> settled;  ///< oldest first
};

struct ledger_summary {
  std::vector<user_balance> users;  ///< sorted by user id
  std::vector<open_lock> locks;     ///< open locks only
};

/// The in-process ledger: users with balances, credentials mapped to users, locks with a TTL.
/// Every operation takes one mutex, so check-and-hold is atomic and N threads can never overspend.
///
///     tollgate::memory_ledger ledger;
///     ledger.add_user("alice", 100_cr);
///     ledger.add_credential("sk-alice-1", "alice");   // what the request carries
///     auto grant = ledger.lock("sk-alice-1", 5_cr, "request-42");
///     ledger.settle(grant->lock_id, 1.25_cr);          // alice now has 98.75 available
class memory_ledger {
 public:
  using ledger_concept = ledger_t;
  using time_point = std::chrono::steady_clock::time_point;

  explicit memory_ledger(memory_ledger_options options = {}) : options_(std::move(options)) {}
  memory_ledger(const memory_ledger&) = delete;
  memory_ledger& operator=(const memory_ledger&) = delete;

  /// Adds a user; false when the id exists already (its balance is left alone) or balance < 0.
  bool add_user(std::string user_id, credits balance) {
    if (balance.is_negative()) return false;
    std::lock_guard guard(mutex_);
    return users_.try_emplace(std::move(user_id), account{balance, {}}).second;
  }

  /// Maps a credential (API key, public id, or the user id itself) to its owner. False when the
  /// user is unknown or the credential belongs to someone else already.
  bool add_credential(std::string credential, std::string_view user_id) {
    std::lock_guard guard(mutex_);
    if (users_.find(std::string(user_id)) == users_.end()) return false;
    auto [it, inserted] = credentials_.try_emplace(std::move(credential), std::string(user_id));
    return inserted || it->second == user_id;
  }

  /// Adds to a user's available balance; returns the new available balance.
  result<credits> top_up(std::string_view user_id, credits amount) {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a top-up must not be negative"};
    std::lock_guard guard(mutex_);
    auto it = users_.find(std::string(user_id));
    if (it == users_.end()) return ledger_error{ledger_errc::unknown_credential, "user not found"};
    if (it->second.available.micros() > std::numeric_limits<std::int64_t>::max() - amount.micros())
      return ledger_error{ledger_errc::invalid_amount, "the balance would overflow"};
    it->second.available += amount;
    return it->second.available;
  }

  /// The available balance (held funds excluded), or nullopt for an unknown user.
  [[nodiscard]] std::optional<credits> balance(std::string_view user_id) {
    std::lock_guard guard(mutex_);
    reap_expired_locked(options_.now());
    auto it = users_.find(std::string(user_id));
    if (it == users_.end()) return std::nullopt;
    return it->second.available;
  }

  /// The owner of a credential, or nullopt.
  [[nodiscard]] std::optional<std::string> owner_of(std::string_view credential) const {
    std::lock_guard guard(mutex_);
    auto it = credentials_.find(std::string(credential));
    if (it == credentials_.end()) return std::nullopt;
    return it->second;
  }

  // --- the ledger concept -------------------------------------------------------------------

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a lock amount must not be negative"};
    std::lock_guard guard(mutex_);
    const auto now = options_.now();
    reap_expired_locked(now);
    if (auto seen = idempotency_.find(std::string(idempotency_key)); !idempotency_key.empty() && seen != idempotency_.end())
      return seen->second;  // a replay: the first grant, never a second hold
    auto owner = credentials_.find(std::string(credential));
    if (owner == credentials_.end()) return ledger_error{ledger_errc::unknown_credential, "user or credential not found"};
    account& acc = users_.at(owner->second);
    if (acc.available < amount)
      return ledger_error{ledger_errc::insufficient_funds,
                          fmt::format("{} available, {} requested", acc.available, amount)};
    acc.available -= amount;
    acc.held += amount;
    lock_grant grant{detail::random_id("lk_"), amount};
    const auto expires = now + options_.lock_ttl;
    locks_.emplace(grant.lock_id, lock_state{owner->second, amount, expires, std::string(idempotency_key)});
    schedule_expiry_locked(expires, grant.lock_id);
    if (!idempotency_key.empty()) idempotency_.emplace(std::string(idempotency_key), grant);
    return grant;
  }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    if (real_cost.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a real cost must not be negative"};
    std::lock_guard guard(mutex_);
    reap_expired_locked(options_.now());
    const std::string id(lock_id);
    if (auto done = settled_.find(id); done != settled_.end()) {
      if (done->second.expired) return ledger_error{ledger_errc::lock_not_found, "lock expired before it was settled; its hold was returned"};
      if (done->second.charged == real_cost) return settlement{real_cost, true};
      return ledger_error{ledger_errc::conflicting_settlement,
                          fmt::format("lock already settled for {}, not {}", done->second.charged, real_cost)};
    }
    auto it = locks_.find(id);
    if (it == locks_.end()) return ledger_error{ledger_errc::lock_not_found, "lock not found"};
    lock_state& lk = it->second;
    account& acc = users_.at(lk.user_id);
    if (real_cost > lk.amount) {
      if (!options_.allow_overage)
        return ledger_error{ledger_errc::invalid_amount, fmt::format("real cost {} exceeds the locked {}", real_cost, lk.amount)};
      if (acc.available < real_cost - lk.amount)
        return ledger_error{ledger_errc::insufficient_funds,
                            fmt::format("real cost {} exceeds the locked {} and the balance", real_cost, lk.amount)};
    }
    acc.held -= lk.amount;
    acc.available += lk.amount - real_cost;
    forget_lock_locked(it, real_cost, false);
    return settlement{real_cost, false};
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  [[nodiscard]] bool health() const noexcept { return true; }

  // --- inspection -----------------------------------------------------------------------------

  /// Balances of every user and the open locks.
  [[nodiscard]] ledger_summary summary() {
    std::lock_guard guard(mutex_);
    const auto now = options_.now();
    reap_expired_locked(now);
    ledger_summary out;
    for (const auto& [id, acc] : users_) out.users.push_back({id, acc.available, acc.held});
    for (const auto& [id, lk] : locks_)
      out.locks.push_back({id, lk.user_id, lk.amount,
                           std::chrono::duration_cast<std::chrono::milliseconds>(lk.expires - now)});
    std::sort(out.locks.begin(), out.locks.end(), [](const open_lock& a, const open_lock& b) { return a.lock_id < b.lock_id; });
    return out;
  }

  /// A copy of the whole state (after returning expired holds).
  [[nodiscard]] memory_ledger_state export_state() {
    std::lock_guard guard(mutex_);
    const auto now = options_.now();
    reap_expired_locked(now);
    memory_ledger_state out;
    for (const auto& [id, acc] : users_) out.users.push_back({id, acc.available});
    for (const auto& [cred, user] : credentials_) out.credentials.push_back({cred, user});
    for (const auto& [id, lk] : locks_)
      out.locks.push_back({id, lk.user_id, lk.amount, std::chrono::duration_cast<std::chrono::milliseconds>(lk.expires - now),
                           lk.idempotency_key});
    std::sort(out.locks.begin(), out.locks.end(), [](const auto& a, const auto& b) { return a.lock_id < b.lock_id; });
    for (const auto& id : settled_order_) {
      auto it = settled_.find(id);
      if (it == settled_.end()) continue;
      credits locked{};
      if (!it->second.idempotency_key.empty())
        if (auto g = idempotency_.find(it->second.idempotency_key); g != idempotency_.end()) locked = g->second.amount;
      out.settled.push_back({id, it->second.charged, it->second.expired, it->second.idempotency_key, locked});
    }
    return out;
  }

  /// Replaces the whole state with `state` (held balances are recomputed from its open locks).
  void import_state(const memory_ledger_state& state) {
    std::lock_guard guard(mutex_);
    const auto now = options_.now();
    users_.clear();
    credentials_.clear();
    locks_.clear();
    expiry_queue_.clear();
    idempotency_.clear();
    settled_.clear();
    settled_order_.clear();
    for (const auto& u : state.users) users_[u.user_id] = account{u.available, {}};
    for (const auto& c : state.credentials) credentials_[c.credential] = c.user_id;
    for (const auto& l : state.locks) {
      auto acc = users_.find(l.user_id);
      if (acc == users_.end()) continue;
      acc->second.held += l.amount;
      const auto expires = now + l.expires_in;
      locks_.emplace(l.lock_id, lock_state{l.user_id, l.amount, expires, l.idempotency_key});
      schedule_expiry_locked(expires, l.lock_id);
      if (!l.idempotency_key.empty()) idempotency_.emplace(l.idempotency_key, lock_grant{l.lock_id, l.amount});
    }
    for (const auto& s : state.settled) {
      settled_.emplace(s.lock_id, settled_state{s.charged, s.expired, s.idempotency_key});
      settled_order_.push_back(s.lock_id);
      if (!s.idempotency_key.empty()) idempotency_.emplace(s.idempotency_key, lock_grant{s.lock_id, s.locked});
    }
  }

  /// Returns the funds of every expired lock now; how many there were. (Also done lazily by every call.)
  std::size_t reap_expired() {
    std::lock_guard guard(mutex_);
    return reap_expired_locked(options_.now());
  }

 private:
  struct account {
    credits available;
    credits held;
  };
  struct lock_state {
    std::string user_id;
    credits amount;
    time_point expires;
    std::string idempotency_key;
  };
  struct settled_state {
    credits charged;
    bool expired;
    std::string idempotency_key;
  };

  std::size_t reap_expired_locked(time_point now) {
    std::size_t reaped = 0;
    while (!expiry_queue_.empty() && expiry_queue_.front().first <= now) {
      auto lk = locks_.find(expiry_queue_.front().second);
      expiry_queue_.pop_front();
      if (lk == locks_.end()) continue;  // settled earlier
      account& acc = users_.at(lk->second.user_id);
      acc.held -= lk->second.amount;
      acc.available += lk->second.amount;
      forget_lock_locked(lk, credits{}, true);
      ++reaped;
    }
    return reaped;
  }

  // With one TTL and a monotonic clock, expiries arrive in order: almost always a push_back.
  void schedule_expiry_locked(time_point expires, const std::string& lock_id) {
    auto at = expiry_queue_.end();
    while (at != expiry_queue_.begin() && std::prev(at)->first > expires) --at;
    expiry_queue_.emplace(at, expires, lock_id);
  }

  // Moves a lock to the bounded history that answers replays; evicts the oldest beyond the bound.
  void forget_lock_locked(std::unordered_map<std::string, lock_state>::iterator it, credits charged, bool expired) {
    settled_.emplace(it->first, settled_state{charged, expired, std::move(it->second.idempotency_key)});
    settled_order_.push_back(it->first);
    locks_.erase(it);
    while (settled_order_.size() > options_.settled_history) {
      auto old = settled_.find(settled_order_.front());
      if (old != settled_.end()) {
        if (!old->second.idempotency_key.empty()) idempotency_.erase(old->second.idempotency_key);
        settled_.erase(old);
      }
      settled_order_.pop_front();
    }
  }

  memory_ledger_options options_;
  mutable std::mutex mutex_;
  std::map<std::string, account> users_;
  std::unordered_map<std::string, std::string> credentials_;
  std::unordered_map<std::string, lock_state> locks_;
  std::deque<std::pair<time_point, std::string>> expiry_queue_;  // by expiry; settled locks leave lazily
  std::unordered_map<std::string, lock_grant> idempotency_;
  std::unordered_map<std::string, settled_state> settled_;
  std::deque<std::string> settled_order_;
};

static_assert(ledger<memory_ledger>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_MEMORY_LEDGER_HPP
