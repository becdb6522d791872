// SPDX-License-Identifier: MIT
// httplib_credit_transport: the credit_transport concept on cpp-httplib's blocking client, pooled.
#ifndef TOLLGATE_ADAPTERS_HTTPLIB_CREDIT_TRANSPORT_HPP
#define TOLLGATE_ADAPTERS_HTTPLIB_CREDIT_TRANSPORT_HPP

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <httplib.h>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/detail/deadline_watchdog.hpp>
#include <tollgate/detail/worker_pool.hpp>
#include <tollgate/ledgers/credit_transport.hpp>
#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate {

/// The default transport of credit_service_ledger. `send` runs on the caller's thread over a pooled
/// keep-alive `httplib::Client`, with a watchdog that stops it at the deadline (cpp-httplib's own
/// timeouts are per socket operation, not per call). `async_send` runs `send` on a pool of
/// `async_threads` workers behind a queue of `queue_capacity` requests: cpp-httplib's client blocks,
/// so a pool is what makes it non-blocking for the caller; each worker holds one connection at a time.
class httplib_credit_transport {
 public:
  using credit_transport_concept = credit_transport_t;

  /// `settings.worker_threads`: how many async exchanges run at once (started at the first async_send).
  explicit httplib_credit_transport(credit_transport_settings settings) : settings_(std::move(settings)) {}
  httplib_credit_transport(const httplib_credit_transport&) = delete;
  httplib_credit_transport& operator=(const httplib_credit_transport&) = delete;

  result<credit_reply> send(const credit_request& request) noexcept {
    try {
      return exchange(request);
    } catch (const std::exception& e) {
      drop_idle_clients();
      return ledger_error{ledger_errc::unavailable, fmt::format("the call failed: {}", e.what())};
    } catch (...) {
      drop_idle_clients();
      return ledger_error{ledger_errc::unavailable, "the call failed"};
    }
  }

  template <class Handler>
  void async_send(const credit_request& request, Handler&& on_reply) {
    std::unique_ptr<detail::pool_task> task;
    try {  // make_unique allocates before it moves the handler: on failure `on_reply` is still ours
      task = std::make_unique<send_task<std::decay_t<Handler>>>(this, request, std::forward<Handler>(on_reply));
    } catch (...) {
      return std::forward<Handler>(on_reply)(result<credit_reply>(ledger_error{ledger_errc::unavailable, "credit transport: out of memory"}));
    }
    task->may_refuse = !request.ends_a_lock;
    pool().submit(std::move(task));
  }

  [[nodiscard]] const credit_transport_settings& settings() const noexcept { return settings_; }

 private:
  // The request copied (its views die with the call) and the completion.
  template <class Handler>
  struct send_task final : detail::pool_task {
    send_task(httplib_credit_transport* t, const credit_request& r, Handler&& h)
        : transport(t), method(r.method), target(r.target), body(r.body), authorization(r.authorization),
          idempotency_key(r.idempotency_key), deadline(r.deadline), handler(std::move(h)) {}
    void run(const logger& log) noexcept override {
      complete(transport->send({method, target, body, authorization, idempotency_key, deadline}), log);
    }
    void refuse(std::string_view why, const logger& log) noexcept override {
      complete(ledger_error{ledger_errc::unavailable, std::string(why)}, log);
    }
    void complete(result<credit_reply> outcome, const logger& log) noexcept {
      try {
        std::move(handler)(std::move(outcome));
      } catch (...) {
        log.error("credit transport: a completion handler threw");
      }
    }
    httplib_credit_transport* transport;
    std::string method, target, body, authorization, idempotency_key;
    std::chrono::steady_clock::time_point deadline;
    Handler handler;
  };

  result<credit_reply> exchange(const credit_request& request) {
    const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - std::chrono::steady_clock::now());
    if (budget.count() <= 0) return ledger_error{ledger_errc::unavailable, "no time left for the call"};
    auto client = acquire();
    httplib::Headers headers{{"Authorization", std::string(request.authorization)}};
    if (!request.idempotency_key.empty()) headers.emplace("Idempotency-Key", std::string(request.idempotency_key));
    const std::string target(request.target);
    httplib::Result res{nullptr, httplib::Error::Unknown};
    bool timed_out = false;
    {
      // Disarmed on every path out of this block, so the watchdog never touches a freed client.
      struct armed {
        detail::deadline_watchdog& watchdog;
        detail::deadline_watchdog::ticket ticket;
        bool* fired;
        ~armed() { *fired = !watchdog.disarm(ticket); }
      } guard{watchdog_, watchdog_.arm(request.deadline, [c = client.get()] { c->stop(); }), &timed_out};
      res = request.method == "GET" ? client->Get(target.c_str(), headers)
                                    : client->Post(target.c_str(), headers, std::string(request.body), "application/json");
    }
    // cpp-httplib's own read timeout may fire a moment before the watchdog: a deadline is a deadline.
    timed_out = timed_out || (!res && std::chrono::steady_clock::now() >= request.deadline);
    if (!res || timed_out) {
      // The connection is in an unknown state: drop it. So are the idle ones, most likely (a
      // restarted service closed them all): a probe after an outage must not meet a dead one.
      drop_idle_clients();
      // A timeout, or a connection lost after sending, leaves the outcome unknown.
      const bool sent = timed_out || res.error() == httplib::Error::Read;
      return ledger_error{ledger_errc::unavailable,
                          timed_out ? fmt::format("timed out after {} ms", budget.count())
                                    : fmt::format("connection failed: {}", httplib::to_string(res.error())),
                          sent};
    }
    credit_reply reply{res->status, std::move(res->body)};
    release_client(std::move(client));
    return reply;
  }

  std::unique_ptr<httplib::Client> acquire() {
    {
      std::lock_guard guard(pool_mutex_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<httplib::Client>(settings_.origin);
    // Keep-alive (the pool reuses the connection) and TCP_NODELAY, with the settings' timeouts; the
    // watchdog ends a call at its deadline whatever they are.
    tune(*c, client_tuning{.connection_timeout = settings_.connect_timeout,
                           .read_timeout = settings_.read_timeout,
                           .write_timeout = settings_.read_timeout});
    return c;
  }

  void drop_idle_clients() noexcept {
    std::vector<std::unique_ptr<httplib::Client>> dead;
    std::lock_guard guard(pool_mutex_);
    dead.swap(idle_);
  }

  void release_client(std::unique_ptr<httplib::Client> c) {
    std::lock_guard guard(pool_mutex_);
    if (idle_.size() < settings_.max_idle_connections) idle_.push_back(std::move(c));
  }

  detail::worker_pool& pool() {
    std::call_once(async_started_, [this] {
      async_ = std::make_unique<detail::worker_pool>(std::max<std::size_t>(1, settings_.worker_threads), settings_.queue_capacity, settings_.log, "credit transport");
    });
    return *async_;
  }

  credit_transport_settings settings_;
  detail::deadline_watchdog watchdog_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
  // Last, so it is destroyed first: its workers finish their queued exchanges while the rest is alive.
  std::once_flag async_started_;
  std::unique_ptr<detail::worker_pool> async_;
};

static_assert(credit_transport<httplib_credit_transport>);

}  // namespace tollgate

#endif  // TOLLGATE_ADAPTERS_HTTPLIB_CREDIT_TRANSPORT_HPP
