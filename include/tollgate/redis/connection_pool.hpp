// SPDX-License-Identifier: MIT
// A pool of hiredis connections to one Redis server: safe for concurrent callers, every call
// bounded by connect and command timeouts, a broken connection dropped instead of reused.
#ifndef TOLLGATE_REDIS_CONNECTION_POOL_HPP
#define TOLLGATE_REDIS_CONNECTION_POOL_HPP

#include <sys/time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/redis/command_argv.hpp>
#include <tollgate/redis/endpoint.hpp>

namespace tollgate::redis {

struct reply_free {
  void operator()(redisReply* r) const noexcept {
    if (r != nullptr) freeReplyObject(r);
  }
};
/// A reply from Redis; may be an error reply (`type == REDIS_REPLY_ERROR`), which the caller reads.
using reply = std::unique_ptr<redisReply, reply_free>;

/// The text of a string, status or error reply.
[[nodiscard]] inline std::string_view text_of(const redisReply& r) noexcept {
  return r.str == nullptr ? std::string_view{} : std::string_view(r.str, r.len);
}
[[nodiscard]] inline bool is_error(const redisReply& r) noexcept { return r.type == REDIS_REPLY_ERROR; }

/// Timeouts and pool size of the connections to one server.
struct connection_options {
  std::chrono::milliseconds connect_timeout{1'000};  ///< TCP connect, per attempt
  std::chrono::milliseconds command_timeout{1'000};  ///< each socket read and write of a command
  std::size_t max_idle = 64;                         ///< connections kept open for reuse
};

/// The connections to one Redis server. A caller takes an idle connection (or opens one), runs its
/// command and gives it back; no lock is held across a network call. After an I/O error the
/// connection is closed, never reused: its stream may hold half a reply.
class connection_pool {
 public:
  connection_pool(endpoint where, connection_options options) : where_(std::move(where)), options_(options) {}
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  /// Runs one command. Transport failures are `unavailable` (`may_have_applied` once the command may
  /// have been sent), a refused login `unauthorized`; a reply, error reply included, is returned.
  /// `retry_safe`: the command may run twice (it is idempotent), so a failure on a connection that
  /// sat idle (e.g. Redis restarted since) is retried once on a fresh connection.
  result<reply> run(std::span<const std::string_view> args, bool retry_safe = false, bool asking = false) {
    bool reused = false;
    auto conn = take(reused);
    if (!conn) return conn.error();
    auto answer = send(*conn, args, asking);
    if (answer) {
      give_back(std::move(*conn));
      return answer;
    }
    if (reused) {
      drop_idle();  // one stale connection means the server went away: the others are stale too
      if (retry_safe) {
        const bool first_may_have_applied = answer.error().may_have_applied;
        auto fresh = connect();
        auto again = fresh ? send(*fresh, args, asking) : result<reply>(fresh.error());
        if (again) {
          give_back(std::move(*fresh));
          return again;
        }
        ledger_error failure = again.error();
        failure.may_have_applied = failure.may_have_applied || first_may_have_applied;  // the first try may have landed
        return failure;
      }
    }
    return answer;
  }

  /// Closes every idle connection (e.g. after the server was seen to restart or fail over).
  void drop_idle() {
    std::vector<context> gone;
    std::lock_guard guard(mutex_);
    gone.swap(idle_);
  }

  [[nodiscard]] const endpoint& where() const noexcept { return where_; }

 private:
  struct context_free {
    void operator()(redisContext* c) const noexcept {
      if (c != nullptr) redisFree(c);
    }
  };
  using context = std::unique_ptr<redisContext, context_free>;

  static timeval to_timeval(std::chrono::milliseconds ms) {
    const auto count = ms.count() <= 0 ? 1 : ms.count();
    return timeval{static_cast<time_t>(count / 1000), static_cast<suseconds_t>((count % 1000) * 1000)};
  }

  result<context> take(bool& reused) {
    {
      std::lock_guard guard(mutex_);
      if (!idle_.empty()) {
        context c = std::move(idle_.back());
        idle_.pop_back();
        reused = true;
        return c;
      }
    }
    reused = false;
    return connect();
  }

  void give_back(context c) {
    std::lock_guard guard(mutex_);
    if (idle_.size() < options_.max_idle) idle_.push_back(std::move(c));
  }

  result<context> connect() {
    context c(redisConnectWithTimeout(where_.host.c_str(), where_.port, to_timeval(options_.connect_timeout)));
    if (!c) return ledger_error{ledger_errc::unavailable, "cannot allocate a Redis connection"};
    if (c->err != 0) return ledger_error{ledger_errc::unavailable, fmt::format("cannot connect to Redis at {}: {}", where_.address(), c->errstr)};
    if (redisSetTimeout(c.get(), to_timeval(options_.command_timeout)) != REDIS_OK)
      return ledger_error{ledger_errc::unavailable, fmt::format("cannot set timeouts on the Redis connection to {}", where_.address())};
    (void)redisEnableKeepAlive(c.get());  // finds a dead peer on an idle connection; best effort
    if (!where_.password.empty()) {
      // AUTH password, or AUTH user password for an ACL user.
      const std::array<std::string_view, 3> argv =
          where_.user.empty() ? std::array<std::string_view, 3>{"AUTH", where_.password.reveal(), {}}
                              : std::array<std::string_view, 3>{"AUTH", where_.user, where_.password.reveal()};
      auto answer = send(c, std::span<const std::string_view>(argv).first(where_.user.empty() ? 2 : 3), false);
      if (!answer) return answer.error();
      // Redis's refusal text names no secret ("WRONGPASS invalid username-password pair…").
      if (is_error(**answer)) return ledger_error{ledger_errc::unauthorized, fmt::format("Redis at {} refused the login: {}", where_.address(), text_of(**answer))};
    }
    if (where_.database != 0) {
      const std::string db = std::to_string(where_.database);
      const std::array<std::string_view, 2> argv{"SELECT", db};
      auto answer = send(c, argv, false);
      if (!answer) return answer.error();
      if (is_error(**answer))
        return ledger_error{ledger_errc::misconfigured, fmt::format("Redis at {} refused database {}: {}", where_.address(), db, text_of(**answer))};
    }
    return c;
  }

  result<reply> send(context& c, std::span<const std::string_view> args, bool asking) {
    if (asking) {  // a cluster slot in migration: ASKING lets the next command in on this node
      reply ok(static_cast<redisReply*>(redisCommand(c.get(), "ASKING")));
      if (!ok) return transport_failure(*c, false);
    }
    command_argv words(args);
    reply r(static_cast<redisReply*>(redisCommandArgv(c.get(), words.argc(), words.argv(), words.lengths())));
    if (!r) return transport_failure(*c, true);
    return r;
  }

  ledger_error transport_failure(const redisContext& c, bool sent) const {
    const bool timed_out = c.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    return ledger_error{ledger_errc::unavailable,
                        timed_out ? fmt::format("Redis at {} did not answer within {} ms", where_.address(), options_.command_timeout.count())
                                  : fmt::format("Redis at {}: {}", where_.address(), c.errstr),
                        sent};
  }

  endpoint where_;
  connection_options options_;
  std::mutex mutex_;
  std::vector<context> idle_;
};

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_CONNECTION_POOL_HPP
