// SPDX-License-Identifier: MIT
// The asynchronous ledger concept: the ledger's calls with a completion handler, for servers whose
// threads must never wait (event loops). Completion is a plain callable: no executor, no Asio here.
#ifndef TOLLGATE_LEDGERS_ASYNC_LEDGER_HPP
#define TOLLGATE_LEDGERS_ASYNC_LEDGER_HPP

#include <concepts>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/unique_function.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate {

/// The tag an asynchronous ledger opts in with: `using async_ledger_concept = tollgate::async_ledger_t;`.
struct async_ledger_t {};

namespace detail {
/// A base for decorators (durable_ledger) that model async_ledger exactly when what they wrap does.
template <bool Opts>
struct async_ledger_opt_in {};
template <>
struct async_ledger_opt_in<true> {
  using async_ledger_concept = async_ledger_t;
};

/// The weakest completion handlers a ledger must accept: callable once, movable, not copyable.
template <class Result>
struct completion_archetype {
  completion_archetype() = default;
  completion_archetype(completion_archetype&&) = default;
  completion_archetype(const completion_archetype&) = delete;
  completion_archetype& operator=(completion_archetype&&) = default;
  completion_archetype& operator=(const completion_archetype&) = delete;
  void operator()(Result) && {}
};
using lock_completion_archetype = completion_archetype<result<lock_grant>>;
using settle_completion_archetype = completion_archetype<result<settlement>>;
}  // namespace detail

/// An asynchronous ledger. Requirements, for `L& l`, `std::string_view s`, `credits c` and completion
/// handlers `on_lock` (callable once as `void(result<lock_grant>)`) and `on_settle` (`void(result<settlement>)`):
///   1. `typename L::async_ledger_concept` is `tollgate::async_ledger_t` (explicit opt-in).
///   2. `l.async_lock(credential, amount, idempotency_key, on_lock)` does what the `ledger` concept's
///      `lock` does (requirement 2 there) and hands its result to `on_lock`.
///   3. `l.async_settle(lock_id, real_cost, on_settle)`: `settle`'s requirement 3, result to `on_settle`.
///   4. `l.async_release(lock_id, on_settle)`: a settle for zero.
///   5. Each handler is called exactly once on every path: a call that cannot even start (a full
///      queue, a closed connection) completes with `unavailable`, never silence and never a throw.
///      It may be called before the function returns (inline completion, as `memory_ledger` does)
///      or later on another thread: the caller dispatches back to its own executor if it needs to.
///      String arguments need not outlive the call; handlers are moved, never copied.
///   6. All three are safe to call concurrently from many threads.
/// A blocking ledger becomes an asynchronous one through `offloading_ledger`.
template <class L>
concept async_ledger =
    requires { typename L::async_ledger_concept; } && std::same_as<typename L::async_ledger_concept, async_ledger_t> &&
    requires(L& l, std::string_view s, credits c, detail::lock_completion_archetype on_lock,
             detail::settle_completion_archetype on_settle, detail::settle_completion_archetype on_release) {
      l.async_lock(s, c, s, std::move(on_lock));
      l.async_settle(s, c, std::move(on_settle));
      l.async_release(s, std::move(on_release));
    };

namespace detail {
/// Each requirement of `async_ledger` on its own (1–4; 5 and 6 are behaviour, checked by tests), stopping
/// at the first broken one so its message is the only error.
template <class L>
constexpr bool check_async_ledger() {
  constexpr bool opts_in = requires { requires std::same_as<typename L::async_ledger_concept, async_ledger_t>; };
  constexpr bool has_lock = requires(L& l, std::string_view s, credits c, lock_completion_archetype h) {
    l.async_lock(s, c, s, std::move(h));
  };
  constexpr bool has_settle = requires(L& l, std::string_view s, credits c, settle_completion_archetype h) {
    l.async_settle(s, c, std::move(h));
  };
  constexpr bool has_release = requires(L& l, std::string_view s, settle_completion_archetype h) {
    l.async_release(s, std::move(h));
  };
  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this async ledger does not opt in: add `using async_ledger_concept = tollgate::async_ledger_t;`");
    return false;
  } else if constexpr (!has_lock) {
    static_assert(has_lock, "tollgate: this async ledger is missing `async_lock(credential, amount, idempotency_key, handler)` "
                            "taking a move-only handler called as void(tollgate::result<tollgate::lock_grant>)");
    return false;
  } else if constexpr (!has_settle) {
    static_assert(has_settle, "tollgate: this async ledger is missing `async_settle(lock_id, real_cost, handler)` "
                              "taking a move-only handler called as void(tollgate::result<tollgate::settlement>)");
    return false;
  } else if constexpr (!has_release) {
    static_assert(has_release, "tollgate: this async ledger is missing `async_release(lock_id, handler)` "
                               "taking a move-only handler called as void(tollgate::result<tollgate::settlement>)");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

/// A non-owning, type-erased reference to any async ledger, what metered's non-blocking path holds.
/// Handlers are type-erased into a move-only function (one allocation per call). The ledger must
/// outlive every reference to it.
class async_ledger_ref {
 public:
  using async_ledger_concept = async_ledger_t;
  using lock_handler = unique_function<void(result<lock_grant>)>;
  using settle_handler = unique_function<void(result<settlement>)>;

  template <class L>
    requires(!std::same_as<std::remove_cvref_t<L>, async_ledger_ref>)
  async_ledger_ref(L& l) noexcept : object_(&l), vtable_(vtable_of<L>()) {}  // NOLINT: implicit by design

  void async_lock(std::string_view credential, credits amount, std::string_view key, lock_handler done) const {
    vtable_->lock(object_, credential, amount, key, std::move(done));
  }
  void async_settle(std::string_view lock_id, credits real_cost, settle_handler done) const {
    vtable_->settle(object_, lock_id, real_cost, std::move(done));
  }
  void async_release(std::string_view lock_id, settle_handler done) const { vtable_->release(object_, lock_id, std::move(done)); }

 private:
  struct vtable {
    void (*lock)(void*, std::string_view, credits, std::string_view, lock_handler);
    void (*settle)(void*, std::string_view, credits, settle_handler);
    void (*release)(void*, std::string_view, settle_handler);
  };
  template <class L>
  static constexpr vtable vtable_for{
      [](void* o, std::string_view c, credits a, std::string_view k, lock_handler h) { static_cast<L*>(o)->async_lock(c, a, k, std::move(h)); },
      [](void* o, std::string_view id, credits c, settle_handler h) { static_cast<L*>(o)->async_settle(id, c, std::move(h)); },
      [](void* o, std::string_view id, settle_handler h) { static_cast<L*>(o)->async_release(id, std::move(h)); },
  };
  // One readable message for a type that is not an async ledger, and nothing instantiated after it.
  template <class L>
  static constexpr const vtable* vtable_of() noexcept {
    if constexpr (detail::check_async_ledger<L>()) {
      return &vtable_for<L>;
    } else {
      return nullptr;
    }
  }

  void* object_;
  const vtable* vtable_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_ASYNC_LEDGER_HPP
