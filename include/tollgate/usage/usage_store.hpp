// SPDX-License-Identifier: MIT
// The usage_store concept: how many units of each limit a tenant uses, acquired and released atomically.
#ifndef TOLLGATE_USAGE_USAGE_STORE_HPP
#define TOLLGATE_USAGE_USAGE_STORE_HPP

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/plans/limit.hpp>

namespace tollgate {

/// The tag a usage store opts in with: `using usage_store_concept = tollgate::usage_store_t;`.
struct usage_store_t {};

/// The answer of try_acquire.
struct acquisition {
  /// True when the units are the tenant's now (by this call, or by the first call with this key).
  bool granted = false;
  /// True when an earlier call with the same idempotency key acquired them: nothing was added now.
  bool replayed = false;
  /// The tenant's usage of the limit after the call (before it, when refused).
  std::int64_t used = 0;
  friend bool operator==(const acquisition&, const acquisition&) = default;
};

/// The answer of release and cancel.
struct usage_release {
  /// True when nothing changed now: the key was released already (release), or acquired nothing (cancel).
  bool replayed = false;
  /// The tenant's usage of the limit after the call.
  std::int64_t used = 0;
  friend bool operator==(const usage_release&, const usage_release&) = default;
};

/// A usage store: per tenant and limit, a count of units in use. Requirements, for `S& s`,
/// `std::string_view t, l, k`, `std::int64_t n`, `limit_value max`:
///   1. `typename S::usage_store_concept` is `tollgate::usage_store_t` (explicit opt-in).
///   2. `s.try_acquire(t, l, n, max, k)` → `result<acquisition>`: in ONE atomic step, adds `n`
///      units to tenant `t`'s usage of limit `l` if the sum stays within `max`, else changes nothing
///      (`granted == false`). Never exceeds `max`, whatever the concurrency (no check-then-act).
///      `max` is the tenant's effective maximum, resolved by the caller (plan, overrides, a soft
///      limit's hard ceiling): the store knows no plans. Idempotent: a second call with key `k`
///      (per tenant and limit) adds nothing and answers `granted` and `replayed`.
///   3. `s.release(t, l, n, k)` → `result<usage_release>`: subtracts `n` (never below zero).
///      Idempotent by `k` too (release keys are apart from acquire keys): a retried delete
///      releases once.
///   4. `s.cancel(t, l, k)` → `result<usage_release>`: undoes the acquisition made with key `k`
///      (the work it was for failed) and forgets `k`, so a retry with `k` counts afresh. A key that
///      acquired nothing is a no-op (`replayed`).
///   5. `s.usage(t, l)` → `result<std::int64_t>`: the units in use now (0 for an unknown tenant).
///   6. `n` must be in [0, INT64_MAX]; arithmetic is overflow-checked (invalid_amount, never a wrap).
///      Failures are ledger_errors: unavailable (store down), invalid_amount, misconfigured.
///   7. All are safe to call concurrently from many threads. Idempotency keys are remembered for a
///      bounded time and number (the store's options say how long).
template <class S>
concept usage_store = requires { typename S::usage_store_concept; } &&
                      std::same_as<typename S::usage_store_concept, usage_store_t> &&
                      requires(S& s, std::string_view v, std::int64_t n, limit_value max) {
                        { s.try_acquire(v, v, n, max, v) } -> std::same_as<result<acquisition>>;
                        { s.release(v, v, n, v) } -> std::same_as<result<usage_release>>;
                        { s.cancel(v, v, v) } -> std::same_as<result<usage_release>>;
                        { s.usage(v, v) } -> std::same_as<result<std::int64_t>>;
                      };

namespace detail {
/// Each requirement of `usage_store` on its own, so a failure names the missing piece (one message).
template <class S>
constexpr bool check_usage_store() {
  constexpr bool opts_in = requires { requires std::same_as<typename S::usage_store_concept, usage_store_t>; };
  constexpr bool has_acquire = requires(S& s, std::string_view v, std::int64_t n, limit_value max) {
    { s.try_acquire(v, v, n, max, v) } -> std::same_as<result<acquisition>>;
  };
  constexpr bool has_release = requires(S& s, std::string_view v, std::int64_t n) { { s.release(v, v, n, v) } -> std::same_as<result<usage_release>>; };
  constexpr bool has_cancel = requires(S& s, std::string_view v) { { s.cancel(v, v, v) } -> std::same_as<result<usage_release>>; };
  constexpr bool has_usage = requires(S& s, std::string_view v) { { s.usage(v, v) } -> std::same_as<result<std::int64_t>>; };
  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this usage store does not opt in: add `using usage_store_concept = tollgate::usage_store_t;`");
    return false;
  } else if constexpr (!has_acquire) {
    static_assert(has_acquire, "tollgate: this usage store is missing `try_acquire(tenant, limit, n, max, key)` returning tollgate::result<tollgate::acquisition>");
    return false;
  } else if constexpr (!has_release) {
    static_assert(has_release, "tollgate: this usage store is missing `release(tenant, limit, n, key)` returning tollgate::result<tollgate::usage_release>");
    return false;
  } else if constexpr (!has_cancel) {
    static_assert(has_cancel, "tollgate: this usage store is missing `cancel(tenant, limit, key)` returning tollgate::result<tollgate::usage_release>");
    return false;
  } else if constexpr (!has_usage) {
    static_assert(has_usage, "tollgate: this usage store is missing `usage(tenant, limit)` returning tollgate::result<std::int64_t>");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

/// A non-owning, type-erased reference to any usage store (what `limited` and the usage endpoint
/// hold). The store must outlive every reference to it.
class usage_store_ref {
 public:
  using usage_store_concept = usage_store_t;

  template <class S>
    requires(!std::same_as<std::remove_cvref_t<S>, usage_store_ref>)
  usage_store_ref(S& s) noexcept : object_(&s), vtable_(vtable_of<S>()) {}  // NOLINT: implicit by design

  result<acquisition> try_acquire(std::string_view tenant, std::string_view limit, std::int64_t n, limit_value max,
                                  std::string_view key) const {
    return vtable_->try_acquire(object_, tenant, limit, n, max, key);
  }
  result<usage_release> release(std::string_view tenant, std::string_view limit, std::int64_t n, std::string_view key) const {
    return vtable_->release(object_, tenant, limit, n, key);
  }
  result<usage_release> cancel(std::string_view tenant, std::string_view limit, std::string_view key) const {
    return vtable_->cancel(object_, tenant, limit, key);
  }
  result<std::int64_t> usage(std::string_view tenant, std::string_view limit) const { return vtable_->usage(object_, tenant, limit); }

 private:
  struct vtable {
    result<acquisition> (*try_acquire)(void*, std::string_view, std::string_view, std::int64_t, limit_value, std::string_view);
    result<usage_release> (*release)(void*, std::string_view, std::string_view, std::int64_t, std::string_view);
    result<usage_release> (*cancel)(void*, std::string_view, std::string_view, std::string_view);
    result<std::int64_t> (*usage)(void*, std::string_view, std::string_view);
  };
  template <class S>
  static constexpr vtable vtable_for{
      [](void* o, std::string_view t, std::string_view l, std::int64_t n, limit_value m, std::string_view k) {
        return static_cast<S*>(o)->try_acquire(t, l, n, m, k);
      },
      [](void* o, std::string_view t, std::string_view l, std::int64_t n, std::string_view k) { return static_cast<S*>(o)->release(t, l, n, k); },
      [](void* o, std::string_view t, std::string_view l, std::string_view k) { return static_cast<S*>(o)->cancel(t, l, k); },
      [](void* o, std::string_view t, std::string_view l) { return static_cast<S*>(o)->usage(t, l); },
  };
  template <class S>
  static constexpr const vtable* vtable_of() noexcept {
    if constexpr (detail::check_usage_store<S>()) return &vtable_for<S>;
    else return nullptr;
  }

  void* object_;
  const vtable* vtable_;
};
static_assert(usage_store<usage_store_ref>);

}  // namespace tollgate

#endif  // TOLLGATE_USAGE_USAGE_STORE_HPP
