// SPDX-License-Identifier: MIT
// The credit-client transport concept: what basic_credit_service_ledger needs from an HTTP client
// (send one request with a deadline, blocking and async). No HTTP library here.
#ifndef TOLLGATE_LEDGERS_CREDIT_TRANSPORT_HPP
#define TOLLGATE_LEDGERS_CREDIT_TRANSPORT_HPP

#include <chrono>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/logging/logger.hpp>

namespace tollgate {

/// The tag a transport opts in with: `using credit_transport_concept = tollgate::credit_transport_t;`.
struct credit_transport_t {};

/// One request to the credit service. Every view is valid only during the call that takes it.
struct credit_request {
  std::string_view method{};           ///< "GET" or "POST"
  std::string_view target{};           ///< path and query, the base path included: "/v1/balance/unlock"
  std::string_view body{};             ///< JSON for a POST, empty for a GET
  std::string_view authorization{};    ///< the whole `Authorization` value ("Bearer …"); a secret: never log it
  std::string_view idempotency_key{};  ///< sent as `Idempotency-Key` when not empty
  std::chrono::steady_clock::time_point deadline{};  ///< the exchange ends by then, answered or not
  /// A settle or a release: it ends a lock already granted, so a transport with a bounded queue
  /// must take it even when full (refusing it would strand the hold until it expires).
  bool ends_a_lock = false;
};

/// The service's answer, whatever its status: the protocol layer maps statuses, not the transport.
struct credit_reply {
  int status = 0;
  std::string body{};
};

/// What a transport is built from: where the service is, and how long each step may take.
struct credit_transport_settings {
  std::string origin{};  ///< scheme, host and port: "http://127.0.0.1:3000"
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds read_timeout{10'000};  ///< per socket read, within the request's deadline
  std::size_t max_idle_connections = 64;           ///< keep-alive connections kept for reuse
  std::size_t max_connections = 64;                ///< async exchanges in flight at once; more wait
  std::size_t worker_threads = 8;                  ///< a blocking client's async_send runs on this many threads
  std::size_t queue_capacity = 1024;               ///< async requests waiting; one more lock is refused
  logger log{};
};

namespace detail {
/// The weakest completion a transport must accept: callable once, movable, not copyable.
struct reply_completion_archetype {
  reply_completion_archetype() = default;
  reply_completion_archetype(reply_completion_archetype&&) = default;
  reply_completion_archetype(const reply_completion_archetype&) = delete;
  reply_completion_archetype& operator=(reply_completion_archetype&&) = default;
  reply_completion_archetype& operator=(const reply_completion_archetype&) = delete;
  void operator()(result<credit_reply>) && {}
};
}  // namespace detail

/// A credit-client transport. Requirements, for `T& t`, `const credit_request& r` and a completion
/// `on_reply` callable once as `void(result<credit_reply>)`:
///   1. `typename T::credit_transport_concept` is `tollgate::credit_transport_t` (explicit opt-in).
///   2. `t.send(r)` returns `result<credit_reply>`: the reply of any status, or an error, by
///      `r.deadline` (a connect, a write or a read still running then is abandoned).
///   3. `t.async_send(r, on_reply)` returns without waiting on the network and calls `on_reply`
///      exactly once with what `send` would have returned: on any thread, possibly before it
///      returns (a refusal); never a throw. A transport that bounds its queue refuses a request
///      with `unavailable` when full, unless `r.ends_a_lock`.
///   4. An error is always `ledger_errc::unavailable`, with `may_have_applied` set when the request
///      may have reached the service (sent, then no complete answer). A connection that failed is
///      never reused; an idle keep-alive connection the service closed is never used.
///   5. Both forms are safe to call concurrently from many threads. Destroying the transport
///      completes every request it queued or started (with its reply, or `unavailable`).
///   6. The request's views need not outlive the call; `authorization` never reaches a log.
/// `tollgate::httplib_credit_transport` (cpp-httplib, the default) and `tollgate::beast::credit_transport`
/// (Boost.Beast, non-blocking on an Asio executor) model it.
template <class T>
concept credit_transport =
    requires { typename T::credit_transport_concept; } && std::same_as<typename T::credit_transport_concept, credit_transport_t> &&
    requires(T& t, const credit_request& r, detail::reply_completion_archetype on_reply) {
      { t.send(r) } -> std::same_as<result<credit_reply>>;
      t.async_send(r, std::move(on_reply));
    };

namespace detail {
/// Each requirement of `credit_transport` on its own (1–3), stopping at the first broken one so its
/// message is the only error.
template <class T>
constexpr bool check_credit_transport() {
  constexpr bool opts_in = requires { requires std::same_as<typename T::credit_transport_concept, credit_transport_t>; };
  constexpr bool has_send = requires(T& t, const credit_request& r) {
    { t.send(r) } -> std::same_as<result<credit_reply>>;
  };
  constexpr bool has_async_send = requires(T& t, const credit_request& r, reply_completion_archetype h) {
    t.async_send(r, std::move(h));
  };
  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this credit transport does not opt in: add `using credit_transport_concept = tollgate::credit_transport_t;`");
    return false;
  } else if constexpr (!has_send) {
    static_assert(has_send, "tollgate: this credit transport is missing `send(const credit_request&)` returning tollgate::result<tollgate::credit_reply>");
    return false;
  } else if constexpr (!has_async_send) {
    static_assert(has_async_send, "tollgate: this credit transport is missing `async_send(const credit_request&, handler)` "
                                  "taking a move-only handler called as void(tollgate::result<tollgate::credit_reply>)");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

/// The least a transport can be: what the concept promises and nothing more. For tests of code
/// written against the concept.
struct credit_transport_archetype {
  using credit_transport_concept = credit_transport_t;
  explicit credit_transport_archetype(const credit_transport_settings&) {}
  credit_transport_archetype(const credit_transport_archetype&) = delete;
  credit_transport_archetype& operator=(const credit_transport_archetype&) = delete;
  result<credit_reply> send(const credit_request&) { return ledger_error{ledger_errc::unavailable, "archetype"}; }
  template <class Handler>
  void async_send(const credit_request& r, Handler&& on_reply) {
    std::forward<Handler>(on_reply)(send(r));
  }
};
static_assert(credit_transport<credit_transport_archetype>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_CREDIT_TRANSPORT_HPP
