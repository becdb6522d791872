// SPDX-License-Identifier: MIT
// tollgate::beast::credit_transport: the credit_transport concept on Boost.Beast's HTTP client,
// non-blocking on the caller's Asio executor; and beast::credit_service_ledger over it.
#ifndef TOLLGATE_ADAPTERS_BEAST_CREDIT_TRANSPORT_HPP
#define TOLLGATE_ADAPTERS_BEAST_CREDIT_TRANSPORT_HPP

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/core.h>

#include <tollgate/ledgers/basic_credit_service_ledger.hpp>
#include <tollgate/ledgers/credit_transport.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/unique_function.hpp>

namespace tollgate::beast {

/// The credit service's HTTP client on Boost.Beast. `async_send` never blocks: it connects, writes
/// and reads on `executor` (the server's io_context, typically), at most `max_connections`
/// exchanges at once, and calls the completion on that executor's thread; more requests wait in a
/// queue of `queue_capacity` (one more lock is refused at once). `send` (the blocking form) runs the
/// same exchange on a private io_context of its own connection, on the caller's thread.
/// Keep-alive connections are pooled; one the service closed while idle is never used. Every
/// exchange ends by its deadline (connect, write and read; name resolution is cached). Plain HTTP only:
/// an `https://` origin is refused at construction.
class credit_transport {
 public:
  using credit_transport_concept = credit_transport_t;

  credit_transport(credit_transport_settings settings, boost::asio::any_io_executor executor)
      : state_(std::make_shared<state>(std::move(settings), std::move(executor))) {}
  credit_transport(const credit_transport&) = delete;
  credit_transport& operator=(const credit_transport&) = delete;
  /// Refuses the queued locks, closes the idle connections; exchanges in flight (and queued
  /// settles) still complete on the executor, by their deadlines.
  ~credit_transport() { state_->stop(); }

  result<credit_reply> send(const credit_request& request) noexcept {
    try {
      auto conn = state_->take_idle(/*blocking=*/true);
      if (!conn) conn = std::make_unique<connection>();
      connection* raw = conn.get();
      std::optional<result<credit_reply>> outcome;
      auto ex = std::make_shared<exchange>(state_, request, std::move(conn),
                                           [&outcome](result<credit_reply> r) noexcept { outcome.emplace(std::move(r)); });
      ex->blocking = true;
      ex->start();
      raw->own_io->restart();  // a pooled connection's io_context ran out of work at its last call
      raw->own_io->run();
      raw = nullptr;
      if (ex->reusable) state_->put_idle(std::move(ex->conn), /*blocking=*/true);
      if (!outcome) return ledger_error{ledger_errc::unavailable, "the exchange did not complete", true};
      return std::move(*outcome);
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::unavailable, fmt::format("the call failed: {}", e.what()), true};
    }
  }

  template <class Handler>
  void async_send(const credit_request& request, Handler&& on_reply) {
    reply_handler handler;
    try {
      handler = reply_handler(std::forward<Handler>(on_reply));
    } catch (...) {
      return std::forward<Handler>(on_reply)(result<credit_reply>(ledger_error{ledger_errc::unavailable, "credit transport: out of memory"}));
    }
    std::shared_ptr<exchange> ex;
    try {
      ex = std::make_shared<exchange>(state_, request, nullptr, std::move(handler));
    } catch (const std::exception& e) {
      return std::move(handler)(result<credit_reply>(ledger_error{ledger_errc::unavailable, fmt::format("credit transport: {}", e.what())}));
    }
    state::admit(state_, std::move(ex));
  }

  /// Exchanges in flight and requests waiting for one, now.
  [[nodiscard]] std::size_t in_flight() const {
    std::lock_guard guard(state_->mutex);
    return state_->in_flight;
  }
  [[nodiscard]] std::size_t waiting() const {
    std::lock_guard guard(state_->mutex);
    return state_->waiting.size();
  }

 private:
  using reply_handler = unique_function<void(result<credit_reply>)>;
  using tcp = boost::asio::ip::tcp;
  static constexpr std::uint64_t max_reply_bytes = std::uint64_t{16} << 20;  // a summary of many users; a reply is never larger

  // A connection: on the shared executor (async), or with an io_context of its own (blocking
  // send), declared first so it outlives the stream.
  struct connection {
    std::unique_ptr<boost::asio::io_context> own_io;
    boost::beast::tcp_stream stream;
    explicit connection(const boost::asio::any_io_executor& ex) : stream(ex) {}
    connection() : own_io(std::make_unique<boost::asio::io_context>(1)), stream(own_io->get_executor()) {}

    // An idle keep-alive connection is usable when nothing is readable on it: readable means the
    // service closed it (EOF) or sent something unasked, and either way it must go.
    [[nodiscard]] bool usable() {
      if (!stream.socket().is_open()) return false;
      pollfd p{stream.socket().native_handle(), POLLIN, 0};
      return ::poll(&p, 1, 0) == 0;
    }
  };

  struct exchange;

  struct state {
    state(credit_transport_settings s, boost::asio::any_io_executor ex) : settings(std::move(s)), executor(std::move(ex)) {
      std::string_view origin = settings.origin;
      if (origin.rfind("https://", 0) == 0)
        throw configuration_error("tollgate::beast::credit_transport speaks plain HTTP: use the cpp-httplib transport for https://");
      if (origin.rfind("http://", 0) != 0) throw configuration_error(fmt::format("not an http:// origin: '{}'", origin));
      origin.remove_prefix(7);
      const auto colon = origin.rfind(':');
      host = std::string(colon == std::string_view::npos ? origin : origin.substr(0, colon));
      port = colon == std::string_view::npos ? "80" : std::string(origin.substr(colon + 1));
      if (!host.empty() && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // [::1]
      if (host.empty()) throw configuration_error("CREDIT_SERVICE_URL has no host");
      host_header = std::string(origin);
    }

    const credit_transport_settings settings;
    const boost::asio::any_io_executor executor;
    std::string host, port, host_header;

    mutable std::mutex mutex;
    std::vector<std::unique_ptr<connection>> idle, idle_blocking;
    std::vector<tcp::endpoint> endpoints;  // resolved once; forgotten when a connect fails
    std::deque<std::shared_ptr<exchange>> waiting;
    std::size_t waiting_refusable = 0;
    std::size_t in_flight = 0;
    bool stopping = false;

    std::unique_ptr<connection> take_idle(bool blocking) {
      std::lock_guard guard(mutex);
      auto& pool = blocking ? idle_blocking : idle;
      while (!pool.empty()) {
        auto c = std::move(pool.back());
        pool.pop_back();
        if (c->usable()) return c;
      }
      return nullptr;
    }
    void put_idle(std::unique_ptr<connection> c, bool blocking) {
      std::lock_guard guard(mutex);
      auto& pool = blocking ? idle_blocking : idle;
      if (!stopping && pool.size() < settings.max_idle_connections) pool.push_back(std::move(c));
    }
    std::vector<tcp::endpoint> cached_endpoints() const {
      std::lock_guard guard(mutex);
      return endpoints;
    }
    void remember_endpoints(std::vector<tcp::endpoint> e) {
      std::lock_guard guard(mutex);
      endpoints = std::move(e);
    }

    // Starts the exchange now, queues it, or refuses it (a lock, with the queue full).
    static void admit(const std::shared_ptr<state>& self, std::shared_ptr<exchange> ex) {
      std::unique_lock guard(self->mutex);
      if (self->in_flight < self->settings.max_connections) {
        ++self->in_flight;
        guard.unlock();
        ex->holds_place = true;
        return ex->start();
      }
      if (ex->ends_a_lock || self->waiting_refusable < self->settings.queue_capacity) {
        if (!ex->ends_a_lock) ++self->waiting_refusable;
        self->waiting.push_back(std::move(ex));
        return;
      }
      guard.unlock();
      ex->finish(ledger_error{ledger_errc::unavailable,
                              fmt::format("credit transport queue full ({} waiting, {} in flight)", self->settings.queue_capacity,
                                          self->settings.max_connections)});
    }

    // An async exchange ended: the next waiting one takes its place.
    void next() {
      std::shared_ptr<exchange> ex;
      {
        std::lock_guard guard(mutex);
        if (waiting.empty()) {
          --in_flight;
          return;
        }
        ex = std::move(waiting.front());
        waiting.pop_front();
        if (!ex->ends_a_lock) --waiting_refusable;
      }
      if (std::chrono::steady_clock::now() >= ex->deadline) {
        ex->finish(ledger_error{ledger_errc::unavailable, "timed out waiting for a connection to the credit service"});
        return next();
      }
      ex->holds_place = true;
      ex->start();
    }

    void stop() {
      std::vector<std::shared_ptr<exchange>> refused;
      std::vector<std::unique_ptr<connection>> closed;
      {
        std::lock_guard guard(mutex);
        stopping = true;
        for (auto& ex : waiting)
          if (!ex->ends_a_lock) refused.push_back(std::move(ex));
        std::erase(waiting, nullptr);
        waiting_refusable = 0;
        closed.swap(idle);
        for (auto& c : idle_blocking) closed.push_back(std::move(c));
        idle_blocking.clear();
      }
      for (auto& ex : refused) ex->finish(ledger_error{ledger_errc::unavailable, "credit transport is shutting down"});
    }
  };

  // One request and its reply, step by step: resolve (once), connect, write, read.
  struct exchange : std::enable_shared_from_this<exchange> {
    exchange(std::shared_ptr<state> s, const credit_request& r, std::unique_ptr<connection> c, reply_handler h)
        : shared(std::move(s)), deadline(r.deadline), ends_a_lock(r.ends_a_lock), conn(std::move(c)), handler(std::move(h)) {
      namespace http = boost::beast::http;
      message.method(r.method == "GET" ? http::verb::get : http::verb::post);
      message.target(boost::beast::string_view(r.target.data(), r.target.size()));
      message.version(11);
      message.set(http::field::host, shared->host_header);
      message.set(http::field::authorization, boost::beast::string_view(r.authorization.data(), r.authorization.size()));
      if (!r.idempotency_key.empty())
        message.set("Idempotency-Key", boost::beast::string_view(r.idempotency_key.data(), r.idempotency_key.size()));
      if (message.method() == http::verb::post) {
        message.set(http::field::content_type, "application/json");
        message.body().assign(r.body.data(), r.body.size());
      }
      message.keep_alive(true);
      message.prepare_payload();
    }

    std::shared_ptr<state> shared;
    std::chrono::steady_clock::time_point deadline;
    bool ends_a_lock;
    bool blocking = false;
    bool reused = false;
    bool reusable = false;
    bool retried = false;
    bool holds_place = false;  // one of the `max_connections` in-flight places, passed on when it ends
    std::unique_ptr<connection> conn;
    reply_handler handler;
    boost::beast::http::request<boost::beast::http::string_body> message;
    boost::beast::flat_buffer buffer;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser;
    std::optional<tcp::resolver> resolver;
    std::optional<boost::asio::steady_timer> resolve_timer;

    void start() {
      if (!conn) {
        conn = shared->take_idle(false);
        reused = conn != nullptr;
        if (!conn) conn = std::make_unique<connection>(shared->executor);
      } else {
        reused = conn->stream.socket().is_open();
      }
      if (reused) return write();
      auto endpoints = shared->cached_endpoints();
      if (!endpoints.empty()) return connect(std::move(endpoints));
      resolve();
    }

    boost::asio::any_io_executor executor() { return conn->stream.get_executor(); }

    void resolve() {
      resolver.emplace(executor());
      resolve_timer.emplace(executor(), deadline);
      resolve_timer->async_wait([self = this->shared_from_this()](boost::beast::error_code ec) {
        if (!ec) self->resolver->cancel();  // the deadline came first
      });
      resolver->async_resolve(shared->host, shared->port,
                              [self = this->shared_from_this()](boost::beast::error_code ec, tcp::resolver::results_type results) {
                                self->resolve_timer->cancel();
                                if (ec) return self->fail(ec, "resolving the credit service's host failed", false);
                                std::vector<tcp::endpoint> endpoints;
                                for (const auto& entry : results) endpoints.push_back(entry.endpoint());
                                self->shared->remember_endpoints(endpoints);
                                self->connect(std::move(endpoints));
                              });
    }

    void connect(std::vector<tcp::endpoint> endpoints) {
      conn->stream.expires_at(deadline);
      conn->stream.async_connect(endpoints, [self = this->shared_from_this()](boost::beast::error_code ec, const tcp::endpoint&) {
        if (ec) {
          self->shared->remember_endpoints({});  // the service may have moved: resolve again next time
          return self->fail(ec, "connection failed", false);
        }
        self->conn->stream.socket().set_option(tcp::no_delay(true), ec);  // a request is one small write: never wait to fill a segment
        self->write();
      });
    }

    void write() {
      conn->stream.expires_at(deadline);
      boost::beast::http::async_write(conn->stream, message, [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t sent) {
        if (ec && sent == 0 && self->reused && !self->retried && std::chrono::steady_clock::now() < self->deadline)
          return self->reconnect();  // a pooled connection the service had closed: nothing went out
        if (ec) return self->fail(ec, "sending to the credit service failed", sent > 0);
        self->read();
      });
    }

    void read() {
      parser.emplace();
      parser->body_limit(max_reply_bytes);
      conn->stream.expires_at(deadline);
      boost::beast::http::async_read(conn->stream, buffer, *parser, [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t got) {
        if (ec) {
          // A pooled connection the service closed just as it was reused: nothing was read, so
          // nothing was done; one fresh connection is worth a try.
          namespace net = boost::asio;
          const bool closed_on_reuse = self->reused && got == 0 && !self->retried &&
                                       (ec == boost::beast::http::error::end_of_stream || ec == net::error::eof ||
                                        ec == net::error::connection_reset);
          if (closed_on_reuse && std::chrono::steady_clock::now() < self->deadline) return self->reconnect();
          return self->fail(ec, "reading the credit service's answer failed", true);
        }
        auto res = self->parser->release();
        self->reusable = res.keep_alive();
        self->finish(credit_reply{static_cast<int>(res.result_int()), std::move(res.body())});
      });
    }

    void reconnect() {
      retried = true;
      boost::beast::error_code ignored;
      conn->stream.socket().close(ignored);
      reused = false;
      buffer.clear();
      auto endpoints = shared->cached_endpoints();
      if (!endpoints.empty()) return connect(std::move(endpoints));
      resolve();
    }

    void fail(const boost::beast::error_code& ec, std::string_view what, bool may_have_applied) {
      boost::beast::error_code ignored;
      if (conn) conn->stream.socket().close(ignored);  // never reused: its state is unknown
      reusable = false;
      if (ec == boost::beast::error::timeout || ec == boost::asio::error::operation_aborted)
        return finish(ledger_error{ledger_errc::unavailable, "timed out", may_have_applied});
      finish(ledger_error{ledger_errc::unavailable, fmt::format("{}: {}", what, ec.message()), may_have_applied});
    }

    // Completes once; an async exchange returns its connection to the pool and lets the next one in.
    void finish(result<credit_reply> outcome) noexcept {
      if (!handler) return;
      auto done = std::move(handler);  // a moved-from unique_function is empty: a second finish returns above
      if (!blocking) {
        if (reusable && conn) shared->put_idle(std::move(conn), false);
        if (holds_place) shared->next();
      }
      try {
        std::move(done)(std::move(outcome));
      } catch (...) {
        shared->settings.log.error("credit transport: a completion handler threw");
      }
    }
  };

  std::shared_ptr<state> state_;
};

static_assert(::tollgate::credit_transport<credit_transport>);

/// The credit service as a non-blocking ledger on an Asio executor:
///
///     tollgate::beast::credit_service_ledger ledger{options, io.get_executor()};
using credit_service_ledger = basic_credit_service_ledger<credit_transport>;

}  // namespace tollgate::beast

#endif  // TOLLGATE_ADAPTERS_BEAST_CREDIT_TRANSPORT_HPP
