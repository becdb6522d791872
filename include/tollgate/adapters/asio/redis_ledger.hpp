// SPDX-License-Identifier: MIT
// asio::redis_ledger: redis_ledger's scripts and keys over hiredis's asynchronous API on the
// caller's event loop, so an event-loop server needs no worker threads to wait on Redis.
#ifndef TOLLGATE_ADAPTERS_ASIO_REDIS_LEDGER_HPP
#define TOLLGATE_ADAPTERS_ASIO_REDIS_LEDGER_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/adapters/asio/redis_connection.hpp>
#include <tollgate/credits.hpp>
#include <tollgate/detail/circuit_breaker.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/redis_ledger.hpp>
#include <tollgate/redis/error_reply.hpp>
#include <tollgate/redis/ledger_calls.hpp>
#include <tollgate/redis/ledger_scripts.hpp>
#include <tollgate/redis/script.hpp>
#include <tollgate/unique_function.hpp>

namespace tollgate::asio {

/// What asio::redis_ledger adds to redis_ledger_options.
struct redis_async_options {
  /// Calls in flight at most (sent, or waiting for the connection). A lock past it is refused at
  /// once with `unavailable`; a settle or release is always sent, because it ends a granted lock.
  std::size_t max_in_flight = 4096;
};

/// The Redis ledger on an event loop. It models `async_ledger`: each call runs the same Lua script
/// on the same keys as `tollgate::redis_ledger` (so both can serve one Redis at once), over one
/// pipelined hiredis connection driven by `executor`'s loop (on a strand of it): no thread waits for
/// Redis. Handlers are called on that strand. It models `ledger` too, through an inner blocking
/// `redis_ledger` (`blocking()`, also for administration), so `durable_ledger` can wrap it: the
/// outbox's retries block on its own thread, never on the loop.
///
///     boost::asio::io_context io;
///     tollgate::asio::redis_ledger redis{io.get_executor(), {.url = "redis://127.0.0.1:6379"}};
///     redis.blocking().add_user("alice", 100_cr);
///     tollgate::durable_ledger ledger{redis, {.journal_path = "settlements.journal"}};
///     // routes: tollgate::metered<...>{ledger, handler}, served by tollgate::beast::server on io
///
/// One Redis server only: a Redis Cluster node's MOVED/ASK answers are reported as `misconfigured`
/// (use `tollgate::redis_ledger` behind `offloading_ledger` there). Close or destroy it once its loop
/// has stopped, or on its strand; the executor's context must outlive it.
class redis_ledger {
 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "redis";  ///< the `ledger` label of its metrics
  using async_ledger_concept = async_ledger_t;
  using lock_handler = unique_function<void(result<lock_grant>)>;
  using settle_handler = unique_function<void(result<settlement>)>;

  template <class Executor>
  redis_ledger(const Executor& executor, redis_ledger_options options = {}, redis_async_options async = {})
      : blocking_(std::move(options)),
        limits_(async),
        strand_(boost::asio::make_strand(boost::asio::any_io_executor(executor))),
        connection_(std::make_shared<redis_connection>(
            strand_, redis::endpoint::parse(blocking_.options().url),
            redis_connection_options{blocking_.options().connect_timeout, blocking_.options().command_timeout})),
        breaker_(blocking_.options().breaker_failures, blocking_.options().breaker_open_for) {}
  redis_ledger(const redis_ledger&) = delete;
  redis_ledger& operator=(const redis_ledger&) = delete;
  ~redis_ledger() { close(); }

  /// Fails every call in flight with `unavailable` now, on this thread, and every later call at
  /// once. For shutdown: call it once the loop has stopped (or on the strand) and before what wraps
  /// this ledger (durable_ledger) is destroyed, since the failed calls' handlers reach it.
  void close() {
    closed_ = true;
    connection_->close();
  }

  // --- the async_ledger concept ---------------------------------------------------------------

  void async_lock(std::string_view credential, credits amount, std::string_view idempotency_key, lock_handler done) {
    if (auto invalid = redis::invalid_lock_amount(amount)) return std::move(done)(*std::move(invalid));
    if (closed_) return std::move(done)(closed());
    if (in_flight_.fetch_add(1) >= limits_.max_in_flight) {
      --in_flight_;
      return std::move(done)(ledger_error{ledger_errc::unavailable, fmt::format("more than {} Redis calls in flight", limits_.max_in_flight)});
    }
    if (!breaker_.allow()) {
      --in_flight_;
      return std::move(done)(ledger_error{ledger_errc::unavailable, "Redis is unavailable (circuit open after repeated failures)"});
    }
    auto op = std::make_unique<lock_operation>(std::string(credential), amount, std::string(idempotency_key), std::move(done));
    boost::asio::dispatch(strand_, [this, op = std::move(op)]() mutable { start_lock(std::move(op)); });
  }

  void async_settle(std::string_view lock_id, credits real_cost, settle_handler done) {
    auto request = redis::settle_request::make(blocking_.options().key_prefix, lock_id, real_cost);
    if (!request) return std::move(done)(request.error());
    if (closed_) return std::move(done)(closed());
    ++in_flight_;  // never refused: a settle ends a granted lock (nor held back by the breaker)
    auto op = std::make_unique<settle_operation>(std::move(*request), std::move(done));
    boost::asio::dispatch(strand_, [this, op = std::move(op)]() mutable { start_settle(std::move(op)); });
  }

  void async_release(std::string_view lock_id, settle_handler done) { async_settle(lock_id, credits{}, std::move(done)); }

  // --- the ledger concept, blocking (durable_ledger's retries; never call these on the loop) ---

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) { return blocking_.lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits real_cost) { return blocking_.settle(lock_id, real_cost); }
  result<settlement> release(std::string_view lock_id) { return blocking_.release(lock_id); }
  /// A blocking PING: for start-up and health endpoints served off the loop.
  [[nodiscard]] bool health() { return blocking_.health(); }

  /// The blocking ledger on the same Redis and keys: administration (add_user, balances, summary, sweep).
  [[nodiscard]] tollgate::redis_ledger& blocking() noexcept { return blocking_; }
  /// Calls in flight now (see redis_async_options::max_in_flight).
  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_.load(); }
  [[nodiscard]] bool circuit_open() const { return breaker_.is_open(); }

 private:
  using reply_handler = redis_connection::reply_handler;

  struct lock_operation {
    lock_operation(std::string c, credits a, std::string k, lock_handler d)
        : credential(std::move(c)), amount(a), key(std::move(k)), done(std::move(d)) {}
    std::string credential;
    credits amount;
    std::string key;
    lock_handler done;
    std::optional<redis::lock_request> request;  // once the owner is known
    std::array<std::string_view, 6> args{};
  };
  struct settle_operation {
    settle_operation(redis::settle_request r, settle_handler d) : request(std::move(r)), done(std::move(d)) {}
    redis::settle_request request;
    settle_handler done;
    std::array<std::string_view, 6> args{};
  };

  void start_lock(std::unique_ptr<lock_operation> op) {
    if (auto hit = blocking_.credentials().find(op->credential)) return send_lock(std::move(op), std::move(hit->user_id));
    const redis::credential_lookup lookup(blocking_.options().key_prefix, op->credential);
    connection_->execute(lookup.command(), [this, op = std::move(op)](result<const redisReply*> answer) mutable {
      answer = screen(std::move(answer));
      if (!answer) {
        ledger_error failure = answer.error();
        failure.may_have_applied = false;  // a lookup changes nothing
        return finish(std::move(op), std::move(failure));
      }
      auto found = redis::read_credential_answer(**answer);
      if (!found) return finish(std::move(op), found.error());
      if (!*found) return finish(std::move(op), redis::unknown_credential());
      blocking_.credentials().remember(op->credential, **found);
      send_lock(std::move(op), std::move((*found)->user_id));
    });
  }

  void send_lock(std::unique_ptr<lock_operation> op, std::string user) {
    op->request.emplace(blocking_.options().key_prefix, std::move(user), op->amount, op->key);
    op->args = op->request->args(blocking_.settings());
    const auto keys = op->request->keys.all();
    const std::span<const std::string_view> args = op->args;
    run_script(redis::ledger_scripts::lock(), keys, args, [this, op = std::move(op)](result<const redisReply*> answer) mutable {
      if (!answer) return finish(std::move(op), answer.error());
      auto grant = redis::read_lock_answer(**answer, *op->request);
      if (!grant && grant.error().code == ledger_errc::unknown_credential) blocking_.credentials().forget(op->credential);
      finish(std::move(op), std::move(grant));
    });
  }

  void start_settle(std::unique_ptr<settle_operation> op) {
    op->args = op->request.args(blocking_.settings());
    const auto keys = op->request.keys().all();
    const std::span<const std::string_view> args = op->args;
    run_script(redis::ledger_scripts::settle(), keys, args, [this, op = std::move(op)](result<const redisReply*> answer) mutable {
      if (!answer) return finish(std::move(op), answer.error());
      auto outcome = redis::read_settle_answer(**answer, op->request.cost);
      finish(std::move(op), std::move(outcome));
    });
  }

  // EVALSHA, and EVAL once when Redis does not have the script. `keys` and `args` live in the
  // operation that `then` owns, so they outlive both sends.
  void run_script(const redis::script& s, std::span<const std::string_view> keys, std::span<const std::string_view> args, reply_handler then) {
    const std::string key_count = std::to_string(keys.size());
    connection_->execute(redis::script_command(s, key_count, keys, args, false),
                         [this, &s, keys, args, then = std::move(then)](result<const redisReply*> answer) mutable {
                           if (answer && redis::is_error(**answer) && redis::is_noscript(redis::text_of(**answer))) {
                             const std::string count = std::to_string(keys.size());
                             return connection_->execute(redis::script_command(s, count, keys, args, true),
                                                         [this, then = std::move(then)](result<const redisReply*> again) mutable {
                                                           std::move(then)(screen(std::move(again)));
                                                         });
                           }
                           std::move(then)(screen(std::move(answer)));
                         });
  }

  // A reply as the caller sees it, and the breaker: a lost connection counts against Redis;
  // "not now" and "not you" error replies become errors; a cluster's redirect is a misconfiguration.
  result<const redisReply*> screen(result<const redisReply*> answer) {
    if (!answer) {
      breaker_.record_failure();
      return answer;
    }
    breaker_.record_success();  // Redis answered, even if with an error reply
    if (redis::is_error(**answer)) {
      const std::string_view text = redis::text_of(**answer);
      if (auto refusal = redis::refusal_of(text)) return *std::move(refusal);
      if (redis::is_redirect(text))
        return ledger_error{ledger_errc::misconfigured,
                            fmt::format("Redis at {} is a Redis Cluster node (it answered '{}'): asio::redis_ledger talks to one server; "
                                        "use tollgate::redis_ledger behind offloading_ledger for a cluster",
                                        connection_->where().address(), text)};
    }
    return answer;
  }

  static ledger_error closed() { return ledger_error{ledger_errc::unavailable, "the Redis ledger is closed (shutting down)"}; }

  template <class Operation, class Result>
  void finish(std::unique_ptr<Operation> op, Result outcome) {
    auto done = std::move(op->done);
    op.reset();
    --in_flight_;
    std::move(done)(std::move(outcome));
  }

  tollgate::redis_ledger blocking_;
  redis_async_options limits_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> closed_{false};
  redis_connection::executor_type strand_;
  std::shared_ptr<redis_connection> connection_;
  ::tollgate::detail::circuit_breaker breaker_;
};
static_assert(async_ledger<redis_ledger>);
static_assert(ledger<redis_ledger>);

}  // namespace tollgate::asio

#endif  // TOLLGATE_ADAPTERS_ASIO_REDIS_LEDGER_HPP
