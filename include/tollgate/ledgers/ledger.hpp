// SPDX-License-Identifier: MIT
// The ledger concept ("transport"): where credits are locked and settled.
#ifndef TOLLGATE_LEDGERS_LEDGER_HPP
#define TOLLGATE_LEDGERS_LEDGER_HPP

#include <concepts>
#include <string>
#include <string_view>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate {

/// The tag a ledger opts in with: `using ledger_concept = tollgate::ledger_t;`.
/// It keeps unrelated types with similar members from modelling `ledger` by accident.
struct ledger_t {};

/// A granted lock: the id to settle it with, and the amount held.
struct lock_grant {
  std::string lock_id;
  credits amount;
};

/// A settled lock: what was charged, whether this answer replays an earlier settle, and whether
/// the settlement was accepted for later delivery (a durable outbox) rather than applied now.
struct settlement {
  credits charged;
  bool replayed = false;
  bool deferred = false;
};

/// A ledger. Requirements, for `L& l`, `std::string_view s`, `credits c`:
///   1. `typename L::ledger_concept` is `tollgate::ledger_t` (explicit opt-in).
///   2. `l.lock(credential, amount, idempotency_key)` → `result<lock_grant>`: atomically checks the
///      balance and holds `amount` for the user owning `credential`. A repeated idempotency key
///      returns the first grant, never a second hold. Fails with insufficient_funds,
///      unknown_credential, invalid_amount, unavailable, unauthorized or misconfigured.
///   3. `l.settle(lock_id, real_cost)` → `result<settlement>`: charges `real_cost`, returns the rest
///      of the hold. Idempotent: repeating it with the same cost returns the first result (with
///      `replayed`); a different cost for a settled lock is conflicting_settlement.
///   4. `l.release(lock_id)` → `result<settlement>`: settle for zero (a full refund).
///   5. `l.health()` → `bool`: whether the ledger can serve now.
///   6. All four are safe to call concurrently from many threads.
/// Holds must expire on their own in the ledger, so a crashed caller never strands funds.
template <class L>
concept ledger = requires { typename L::ledger_concept; } &&
                 std::same_as<typename L::ledger_concept, ledger_t> &&
                 requires(L& l, std::string_view s, credits c) {
                   { l.lock(s, c, s) } -> std::same_as<result<lock_grant>>;
                   { l.settle(s, c) } -> std::same_as<result<settlement>>;
                   { l.release(s) } -> std::same_as<result<settlement>>;
                   { l.health() } -> std::same_as<bool>;
                 };

/// Whether a ledger answers inside the caller's process, so that no answer of its can be lost on
/// the way back. Such a ledger declares `static constexpr bool in_process = true;` (wrappers pass on
/// their inner ledger's). metered then locks without an idempotency key: the key it would make is
/// there to look up or retry a lock whose answer was lost, which cannot happen, and remembering one
/// per request costs the ledger memory and a cache miss on every lock.
template <class L>
inline constexpr bool in_process_ledger = requires { requires static_cast<bool>(L::in_process); };

namespace detail {
/// Each requirement of `ledger` on its own (1–5 above; 6 cannot be checked), so a failure names
/// the missing piece. It stops at the first broken requirement and returns false, so its message
/// is the only error as long as callers branch on the result instead of using the type anyway.
template <class L>
constexpr bool check_ledger() {
  // Each is a requires-expression, so evaluating one for a type that misses an earlier piece is harmless.
  constexpr bool opts_in = requires { requires std::same_as<typename L::ledger_concept, ledger_t>; };
  constexpr bool has_lock = requires(L& l, std::string_view s, credits c) { l.lock(s, c, s); };
  constexpr bool lock_returns_grant =
      requires(L& l, std::string_view s, credits c) { { l.lock(s, c, s) } -> std::same_as<result<lock_grant>>; };
  constexpr bool has_settle = requires(L& l, std::string_view s, credits c) { l.settle(s, c); };
  constexpr bool settle_returns_settlement =
      requires(L& l, std::string_view s, credits c) { { l.settle(s, c) } -> std::same_as<result<settlement>>; };
  constexpr bool has_release = requires(L& l, std::string_view s) { { l.release(s) } -> std::same_as<result<settlement>>; };
  constexpr bool has_health = requires(L& l) { { l.health() } -> std::same_as<bool>; };

  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this ledger does not opt in: add `using ledger_concept = tollgate::ledger_t;`");
    return false;
  } else if constexpr (!has_lock) {
    static_assert(has_lock, "tollgate: this ledger is missing `lock(credential, amount, idempotency_key)`");
    return false;
  } else if constexpr (!lock_returns_grant) {
    static_assert(lock_returns_grant, "tollgate: a ledger's `lock(...)` must return tollgate::result<tollgate::lock_grant>");
    return false;
  } else if constexpr (!has_settle) {
    static_assert(has_settle, "tollgate: this ledger is missing `settle(lock_id, real_cost)`");
    return false;
  } else if constexpr (!settle_returns_settlement) {
    static_assert(settle_returns_settlement, "tollgate: a ledger's `settle(...)` must return tollgate::result<tollgate::settlement>");
    return false;
  } else if constexpr (!has_release) {
    static_assert(has_release, "tollgate: this ledger is missing `release(lock_id)` returning tollgate::result<tollgate::settlement>");
    return false;
  } else if constexpr (!has_health) {
    static_assert(has_health, "tollgate: this ledger is missing `health()` returning bool");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

namespace detail {
/// The `ledger` label of a ledger type's metrics: its `metrics_kind` member, or "custom".
template <class L>
[[nodiscard]] constexpr std::string_view ledger_kind_of() noexcept {
  if constexpr (requires { { L::metrics_kind } -> std::convertible_to<std::string_view>; }) return L::metrics_kind;
  else return "custom";
}
}  // namespace detail

/// A non-owning, type-erased reference to any ledger: what metered holds, so one metered type
/// serves every ledger. The ledger must outlive every reference to it.
class ledger_ref {
 public:
  using ledger_concept = ledger_t;

  template <class L>
    requires(!std::same_as<std::remove_cvref_t<L>, ledger_ref>)
  ledger_ref(L& l) noexcept : object_(&l), vtable_(vtable_of<L>()) {}  // NOLINT: implicit by design

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) const {
    return vtable_->lock(object_, credential, amount, key);
  }
  result<settlement> settle(std::string_view lock_id, credits real_cost) const { return vtable_->settle(object_, lock_id, real_cost); }
  result<settlement> release(std::string_view lock_id) const { return vtable_->release(object_, lock_id); }
  [[nodiscard]] bool health() const { return vtable_->health(object_); }
  /// The kind of the ledger referred to ("memory", "redis"…), for the `ledger` label of metrics.
  [[nodiscard]] std::string_view kind() const noexcept { return vtable_->kind; }

 private:
  struct vtable {
    result<lock_grant> (*lock)(void*, std::string_view, credits, std::string_view);
    result<settlement> (*settle)(void*, std::string_view, credits);
    result<settlement> (*release)(void*, std::string_view);
    bool (*health)(void*);
    std::string_view kind;
  };
  template <class L>
  static constexpr vtable vtable_for{
      [](void* o, std::string_view c, credits a, std::string_view k) { return static_cast<L*>(o)->lock(c, a, k); },
      [](void* o, std::string_view id, credits c) { return static_cast<L*>(o)->settle(id, c); },
      [](void* o, std::string_view id) { return static_cast<L*>(o)->release(id); },
      [](void* o) { return static_cast<L*>(o)->health(); },
      detail::ledger_kind_of<L>(),
  };

  // Diagnoses a non-ledger with one readable message, and then instantiates nothing that uses it:
  // no errors from deep inside the vtable follow the message.
  template <class L>
  static constexpr const vtable* vtable_of() noexcept {
    if constexpr (detail::check_ledger<L>()) {
      return &vtable_for<L>;
    } else {
      return nullptr;
    }
  }

  void* object_;
  const vtable* vtable_;
};
static_assert(ledger<ledger_ref>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_LEDGER_HPP
