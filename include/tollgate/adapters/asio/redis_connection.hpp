// SPDX-License-Identifier: MIT
// hiredis's asynchronous API driven by an Asio event loop: one pipelined Redis connection whose
// socket waits run on the caller's executor, bounded by connect and command timeouts.
#ifndef TOLLGATE_ADAPTERS_ASIO_REDIS_CONNECTION_HPP
#define TOLLGATE_ADAPTERS_ASIO_REDIS_CONNECTION_HPP

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/redis/command_argv.hpp>
#include <tollgate/redis/connection_pool.hpp>
#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/error_reply.hpp>
#include <tollgate/unique_function.hpp>

namespace tollgate::asio {

/// Timeouts of a redis_connection.
struct redis_connection_options {
  std::chrono::milliseconds connect_timeout{1'000};  ///< TCP connect, AUTH and SELECT
  std::chrono::milliseconds command_timeout{1'000};  ///< from sending a command to its reply
};

/// One Redis connection on hiredis's asynchronous API, its socket watched by Asio on a strand: the
/// loop never waits for Redis. Commands are pipelined; the connection opens on the first command
/// and again on the next command after it broke. A command not answered within `command_timeout`
/// (a hung Redis: replies come in order, so every later one waits too) closes the connection and
/// fails every command in flight with `unavailable`, as a broken connection does.
///
/// Use it on its strand only (`execute`, `close`); make it with std::make_shared. Handlers are
/// called on the strand: a reply inline (it is valid only during the call), a failure posted, so a
/// handler never runs inside hiredis while it tears a connection down.
class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  using executor_type = boost::asio::strand<boost::asio::any_io_executor>;
  /// Called exactly once per command: with the reply (an error reply too), or with `unavailable`.
  using reply_handler = unique_function<void(result<const redisReply*>)>;

  redis_connection(executor_type strand, redis::endpoint where, redis_connection_options options)
      : strand_(std::move(strand)), where_(std::move(where)), options_(options), timer_(strand_) {}
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection() { close(); }

  /// Sends `argv` (copied before this returns) and calls `done` with the reply.
  void execute(std::span<const std::string_view> argv, reply_handler done) {
    if (closed_) return fail(std::move(done), ledger_error{ledger_errc::unavailable, "the Redis connection is closed"});
    if (!current_) {
      if (auto failure = open()) return fail(std::move(done), *std::move(failure));
    }
    if (!current_->ready) {  // SELECT not answered yet: nothing may run on database 0 meanwhile
      current_->queued.push_back({std::vector<std::string>(argv.begin(), argv.end()), std::move(done)});
      return;
    }
    submit(*current_, argv, std::move(done));
  }

  /// Closes the connection; commands in flight fail now, on this thread. On the strand, or once the
  /// loop has stopped. Later commands fail at once.
  void close() {
    closed_ = true;
    if (current_) {
      const std::shared_ptr<link> l = current_;  // alive until hiredis is done with it
      l->failure = "the Redis connection was closed";
      redisAsyncFree(l->context);
    }
    timer_.cancel();
  }

  /// Commands sent and not yet answered, plus those waiting for the connection to be ready.
  [[nodiscard]] std::size_t in_flight() const noexcept { return current_ ? current_->deadlines.size() + current_->queued.size() : 0; }
  [[nodiscard]] const redis::endpoint& where() const noexcept { return where_; }

 private:
  using clock = std::chrono::steady_clock;
  using wait_type = boost::asio::posix::stream_descriptor::wait_type;

  struct queued_command {
    std::vector<std::string> argv;
    reply_handler done;
  };

  // One hiredis context's life, from connect to free. Waits on its socket hold it by shared_ptr, so
  // a wait that completes after hiredis freed the context finds `context == nullptr` and stops.
  struct link : std::enable_shared_from_this<link> {
    link(redis_connection& o, const executor_type& strand) : owner(&o), socket(strand) {}

    void watch(wait_type type) {
      const bool reading = type == wait_type::wait_read;
      bool& waiting = reading ? read_waiting : write_waiting;
      if (context == nullptr || waiting || !(reading ? want_read : want_write)) return;
      waiting = true;
      socket.async_wait(type, [self = shared_from_this(), type, reading](const boost::system::error_code& ec) {
        (reading ? self->read_waiting : self->write_waiting) = false;
        if (ec || self->context == nullptr || !(reading ? self->want_read : self->want_write)) return;
        // May free the context (end of stream, a protocol error): the cleanup hook then clears it.
        if (reading) redisAsyncHandleRead(self->context);
        else redisAsyncHandleWrite(self->context);
        self->watch(type);
      });
    }

    // hiredis's event hooks; `data` is the link.
    static void add_read(void* data) {
      auto* l = static_cast<link*>(data);
      l->want_read = true;
      l->watch(wait_type::wait_read);
    }
    static void del_read(void* data) { static_cast<link*>(data)->want_read = false; }
    static void add_write(void* data) {
      auto* l = static_cast<link*>(data);
      l->want_write = true;
      l->watch(wait_type::wait_write);
    }
    static void del_write(void* data) { static_cast<link*>(data)->want_write = false; }
    // Called while hiredis frees the context, after every pending reply was failed: the socket is
    // hiredis's to close, so it is released (which cancels the waits), never closed here.
    static void cleanup(void* data) {
      auto* l = static_cast<link*>(data);
      std::vector<queued_command> queued;
      queued.swap(l->queued);
      if (l->owner != nullptr)
        for (auto& q : queued) l->owner->fail(std::move(q.done), l->owner->broken(*l, false));
      l->context = nullptr;
      (void)l->socket.release();
      if (l->owner != nullptr && l->owner->current_.get() == l) l->owner->current_.reset();
    }

    redis_connection* owner;
    redisAsyncContext* context = nullptr;
    boost::asio::posix::stream_descriptor socket;
    bool want_read = false, want_write = false, read_waiting = false, write_waiting = false;
    bool connected = false;
    bool ready = true;  // false until SELECT answered
    clock::time_point connect_deadline{};
    std::deque<clock::time_point> deadlines;  // of the commands sent, oldest first (replies come in order)
    std::vector<queued_command> queued;
    std::string failure;  // why this side gave up on it (a timeout), for the errors it causes
  };

  // The per-command state hiredis carries as privdata; deleted in on_reply.
  struct pending {
    reply_handler done;
  };

  static void on_reply(redisAsyncContext* context, void* reply, void* privdata) {
    std::unique_ptr<pending> p(static_cast<pending*>(privdata));
    auto* l = static_cast<link*>(context->data);
    if (!l->deadlines.empty()) l->deadlines.pop_front();
    if (reply == nullptr) {  // hiredis is freeing the context: the command's fate is unknown
      if (l->owner != nullptr) l->owner->fail(std::move(p->done), l->owner->broken(*l, true));
      return;
    }
    deliver(std::move(p->done), static_cast<const redisReply*>(reply));
  }

  static void on_connect(const redisAsyncContext* context, int status) {
    auto* l = static_cast<link*>(context->data);
    if (status == REDIS_OK) l->connected = true;
    else if (l->failure.empty() && context->errstr != nullptr) l->failure = context->errstr;
  }

  // An exception must not unwind through hiredis's C frames: a handler that throws is a bug, and
  // the rest of the batch of replies still gets its answers.
  static void deliver(reply_handler done, result<const redisReply*> answer) noexcept {
    try {
      std::move(done)(std::move(answer));
    } catch (...) {  // NOLINT(bugprone-empty-catch): nothing sensible to do inside hiredis
    }
  }

  ledger_error broken(const link& l, bool sent) const {
    std::string why = !l.failure.empty() ? l.failure : (l.context != nullptr && l.context->errstr != nullptr && l.context->err != 0)
                                                           ? std::string(l.context->errstr)
                                                           : std::string("connection lost");
    return ledger_error{ledger_errc::unavailable, fmt::format("Redis at {}: {}", where_.address(), why), sent};
  }

  // Failures are posted (or, while closing, delivered now): the handler may send again, which must
  // not happen inside hiredis's teardown of the old context.
  void fail(reply_handler done, ledger_error error) {
    if (closed_) return deliver(std::move(done), std::move(error));
    boost::asio::post(strand_, [done = std::move(done), error = std::move(error)]() mutable { deliver(std::move(done), std::move(error)); });
  }

  // Starts a connection: non-blocking connect, then AUTH and SELECT ahead of any command.
  std::optional<ledger_error> open() {
    redisAsyncContext* context = redisAsyncConnect(where_.host.c_str(), where_.port);
    if (context == nullptr) return ledger_error{ledger_errc::unavailable, "cannot allocate a Redis connection"};
    if (context->err != 0) {
      ledger_error failure{ledger_errc::unavailable, fmt::format("cannot connect to Redis at {}: {}", where_.address(), context->errstr)};
      redisAsyncFree(context);
      return failure;
    }
    auto l = std::make_shared<link>(*this, strand_);
    boost::system::error_code ec;
    l->socket.assign(context->c.fd, ec);
    if (ec) {
      redisAsyncFree(context);
      return ledger_error{ledger_errc::unavailable, fmt::format("cannot watch the Redis connection to {}: {}", where_.address(), ec.message())};
    }
    l->context = context;
    context->data = l.get();
    context->ev.data = l.get();
    context->ev.addRead = &link::add_read;
    context->ev.delRead = &link::del_read;
    context->ev.addWrite = &link::add_write;
    context->ev.delWrite = &link::del_write;
    context->ev.cleanup = &link::cleanup;
    redisAsyncSetConnectCallback(context, &on_connect);
    l->connect_deadline = clock::now() + options_.connect_timeout;
    current_ = l;
    if (!where_.password.empty()) {
      // Refused: every later command answers NOAUTH, which the ledger reports as unauthorized.
      const std::array<std::string_view, 3> auth{"AUTH", where_.user.empty() ? where_.password.reveal() : std::string_view(where_.user),
                                                 where_.password.reveal()};
      submit(*l, std::span<const std::string_view>(auth).first(where_.user.empty() ? 2 : 3), [](result<const redisReply*>) {});
    }
    if (where_.database != 0) {
      l->ready = false;
      const std::string db = std::to_string(where_.database);
      const std::array<std::string_view, 2> select{"SELECT", db};
      submit(*l, select, [self = shared_from_this(), weak = std::weak_ptr<link>(l)](result<const redisReply*> answer) {
        self->on_selected(weak.lock(), answer);
      });
    }
    link::add_write(l.get());  // the socket turning writable is how the connect completes
    arm_timer();
    return std::nullopt;
  }

  void on_selected(const std::shared_ptr<link>& l, const result<const redisReply*>& answer) {
    if (!l || !answer || l->context == nullptr) return;  // the link's teardown fails the queue
    if (redis::is_error(**answer)) {
      const std::string_view text = redis::text_of(**answer);
      auto refusal = redis::refusal_of(text);
      const ledger_error error = refusal ? *refusal
                                         : ledger_error{ledger_errc::misconfigured,
                                                        fmt::format("Redis at {} refused database {}: {}", where_.address(), where_.database, text)};
      for (auto& q : l->queued) fail(std::move(q.done), error);
      l->queued.clear();
      redisAsyncFree(l->context);  // inside a reply callback: hiredis frees it once the callback returns
      return;
    }
    l->ready = true;
    std::vector<queued_command> queued;
    queued.swap(l->queued);
    for (auto& q : queued) {
      const std::vector<std::string_view> argv(q.argv.begin(), q.argv.end());
      submit(*l, argv, std::move(q.done));
    }
  }

  void submit(link& l, std::span<const std::string_view> args, reply_handler done) {
    redis::command_argv words(args);
    auto p = std::make_unique<pending>(pending{std::move(done)});
    if (l.context == nullptr ||
        redisAsyncCommandArgv(l.context, &on_reply, p.get(), words.argc(), words.argv(), words.lengths()) != REDIS_OK)
      return fail(std::move(p->done), broken(l, false));
    (void)p.release();  // hiredis hands it back to on_reply exactly once
    l.deadlines.push_back(clock::now() + options_.command_timeout);
    arm_timer();
  }

  // One timer per connection, at the earliest deadline: the connect's while connecting, else the
  // oldest command's. Deadlines only grow, so a timer set earlier never misses one.
  void arm_timer() {
    if (timer_armed_ || !current_ || closed_) return;
    const auto at = next_deadline(*current_);
    if (!at) return;
    timer_armed_ = true;
    timer_.expires_at(*at);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) { self->on_timer(); });
  }

  static std::optional<clock::time_point> next_deadline(const link& l) {
    std::optional<clock::time_point> at;
    if (!l.connected) at = l.connect_deadline;
    if (!l.deadlines.empty() && (!at || l.deadlines.front() < *at)) at = l.deadlines.front();
    return at;
  }

  void on_timer() {
    timer_armed_ = false;
    if (closed_ || !current_) return;
    const auto at = next_deadline(*current_);
    if (at && *at <= clock::now()) {
      const std::shared_ptr<link> l = current_;
      l->failure = l->connected ? fmt::format("no answer within {} ms", options_.command_timeout.count())
                                : fmt::format("cannot connect within {} ms", options_.connect_timeout.count());
      redisAsyncFree(l->context);  // fails every command in flight; the next command reconnects
      return;
    }
    arm_timer();
  }

  executor_type strand_;
  redis::endpoint where_;
  redis_connection_options options_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool closed_ = false;
  std::shared_ptr<link> current_;
};

}  // namespace tollgate::asio

#endif  // TOLLGATE_ADAPTERS_ASIO_REDIS_CONNECTION_HPP
