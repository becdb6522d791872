// SPDX-License-Identifier: MIT
// A small asynchronous HTTP/1.1 server on Boost.Beast: routes by method and path, metered routes
// served without blocking the loop, and bounds for hostile clients.
#ifndef TOLLGATE_ADAPTERS_BEAST_SERVER_HPP
#define TOLLGATE_ADAPTERS_BEAST_SERVER_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <tollgate/adapters/asio.hpp>
#include <tollgate/adapters/beast/message.hpp>
#include <tollgate/adapters/beast/write_response.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/metering/metered.hpp>
#include <tollgate/unique_function.hpp>

namespace tollgate::beast {

/// The bounds every connection lives within. The defaults mirror tollgate::tune for cpp-httplib.
struct server_options {
  std::size_t max_header_bytes = std::size_t{32} << 10;  ///< request line and headers → 431 past it
  std::size_t max_body_bytes = std::size_t{1} << 20;     ///< request body → 413 past it
  std::chrono::milliseconds read_timeout{5'000};         ///< a whole request, from its first byte or the last response
  std::chrono::milliseconds write_timeout{5'000};        ///< each write of a response
  std::chrono::seconds keep_alive_timeout{5};            ///< an idle connection between requests (plus read_timeout)
  std::size_t max_connections = 10'000;                  ///< more are accepted and closed at once
  logger log{};
};

/// How a route serves one request on the loop: it completes `res` and then calls `done` exactly once,
/// from the connection's executor (`executor`, which tracks outstanding work), which it may resume on.
using route_handler = std::function<void(const request&, response&, const boost::asio::any_io_executor& executor, unique_task done)>;

namespace detail {

// Marks "this thread is inside this route call": an answer that comes while it is open came inline,
// on the loop, and may continue at once. Identified by the thread's own counter and its address, so
// an answer arriving later, or on another thread, is never mistaken for one.
class inline_scope {
 public:
  struct call_id {
    const std::uint64_t* thread;
    std::uint64_t number;
  };
  inline_scope() noexcept : previous_(current()) { current() = ++counter(); }
  ~inline_scope() { current() = previous_; }
  inline_scope(const inline_scope&) = delete;
  inline_scope& operator=(const inline_scope&) = delete;

  [[nodiscard]] call_id id() const noexcept { return {&current(), current()}; }
  [[nodiscard]] static bool inside(call_id call) noexcept { return call.thread == &current() && current() == call.number; }

 private:
  static std::uint64_t& current() noexcept {
    thread_local std::uint64_t open = 0;
    return open;
  }
  static std::uint64_t& counter() noexcept {
    thread_local std::uint64_t made = 0;
    return made;
  }
  std::uint64_t previous_;
};

}  // namespace detail

/// Maps method and path (exact match) to handlers. A `metered<...>` route is served through its
/// non-blocking path; a handler `void(const request&, response&)` runs on the loop and must not
/// block; an asynchronous one, `void(const request&, response&, const any_io_executor& executor,
/// unique_task done)` (a `route_handler`), starts its work and calls `done` once, from `executor`,
/// when `response` is complete (both stay alive until then).
class router {
 public:
  template <class Handler>
  router& get(std::string path, Handler handler) {
    // HEAD answers what GET would, without the body: one handler (one metered route) for both.
    route_handler h = to_route_handler(std::move(handler));
    routes_.push_back({http::verb::head, path, h});
    routes_.push_back({http::verb::get, std::move(path), std::move(h)});
    return *this;
  }
  template <class Handler>
  router& post(std::string path, Handler handler) {
    return add(http::verb::post, std::move(path), std::move(handler));
  }
  /// Every method at `path`.
  template <class Handler>
  router& any(std::string path, Handler handler) {
    return add(std::nullopt, std::move(path), std::move(handler));
  }
  template <class Handler>
  router& add(std::optional<http::verb> method, std::string path, Handler handler) {
    routes_.push_back({method, std::move(path), to_route_handler(std::move(handler))});
    return *this;
  }

  /// The handler for this method and path; `known_path` tells a 405 from a 404.
  [[nodiscard]] const route_handler* find(http::verb method, std::string_view path, bool& known_path) const {
    known_path = false;
    for (const auto& r : routes_) {
      if (r.path != path) continue;
      known_path = true;
      if (!r.method || *r.method == method) return &r.handler;
    }
    return nullptr;
  }

  /// The methods served at `path`, for a 405's `Allow` header.
  [[nodiscard]] std::string allowed(std::string_view path) const {
    std::string out;
    for (const auto& r : routes_) {
      if (r.path != path || !r.method) continue;
      const auto name = http::to_string(*r.method);
      if (out.find(std::string_view(name.data(), name.size())) != std::string::npos) continue;
      if (!out.empty()) out += ", ";
      out.append(name.data(), name.size());
    }
    return out;
  }

 private:
  struct route {
    std::optional<http::verb> method;
    std::string path;
    route_handler handler;
  };

  template <class Handler>
  static route_handler to_route_handler(Handler handler) {
    if constexpr (asio::async_route<Handler, request, response>) {
      // async_call without the completion-token layer: the session's `done` may run inline. A
      // ledger that answers inside async_call (memory_ledger) continues right there; an answer from
      // elsewhere is posted to the session's executor, which tracks work so the loop waits for it.
      // `executor` belongs to the session, which `done` keeps alive until the request ends.
      if constexpr (requires { handler.serves_async(); }) {
        if (!handler.serves_async())  // it would answer 500 to every request: refuse it at start-up
          throw std::invalid_argument(
              "tollgate: a metered Beast route needs a ledger with async forms (memory_ledger, credit_service_ledger, "
              "durable_ledger over one of them); wrap a blocking ledger in tollgate::offloading_ledger");
      }
      return [h = std::make_shared<Handler>(std::move(handler))](const request& req, response& res,
                                                               const boost::asio::any_io_executor& executor, unique_task done) {
        const detail::inline_scope scope;
        h->async_call(
            req, res,
            [executor = &executor, call = scope.id()](unique_task task) {
              if (detail::inline_scope::inside(call)) return std::move(task)();
              boost::asio::post(*executor, [task = std::move(task)]() mutable {
                try {
                  std::move(task)();
                } catch (...) {  // metered answers its own failures; nothing may escape into the loop
                }
              });
            },
            std::move(done));
      };
    } else if constexpr (std::is_invocable_v<Handler&, const request&, response&, const boost::asio::any_io_executor&, unique_task>) {
      // Already a route_handler: it answers when its own work ends (an async call of its own).
      return route_handler(std::move(handler));
    } else if constexpr (!std::is_invocable_v<Handler&, const request&, response&>) {
      static_assert(::tollgate::detail::dependent_false<Handler>,
                    "tollgate: a Beast route takes a tollgate::metered<...>, a handler (const tollgate::beast::request&, "
                    "tollgate::beast::response&), or an asynchronous one (request, response, executor, done)");
      return {};
    } else {
      return [h = std::move(handler)](const request& req, response& res, const boost::asio::any_io_executor&, unique_task done) mutable {
        try {
          h(req, res);
        } catch (...) {  // any exception, std:: or not: the loop must go on
          res.source() = nullptr;
          res.body().clear();
          ::tollgate::detail::write_error(res, 500, "Internal server error");
        }
        std::move(done)();
      };
    }
  }

  std::vector<route> routes_;
};

namespace detail {

// One connection: read a request, serve it, write the answer, and again while it keeps alive.
// Everything runs on the connection's strand; the session lives as long as an operation holds it.
class session : public std::enable_shared_from_this<session> {
 public:
  session(boost::asio::ip::tcp::socket socket, std::shared_ptr<const router> routes, std::shared_ptr<const server_options> options,
          std::shared_ptr<std::atomic<std::size_t>> connections)
      : stream_(std::move(socket)), executor_(boost::asio::prefer(stream_.get_executor(), boost::asio::execution::outstanding_work.tracked)),
        routes_(std::move(routes)), owned_options_(std::move(options)), options_(*owned_options_),
        connections_(std::move(connections)) {}
  ~session() { connections_->fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(std::chrono::milliseconds(0)); });
  }

 private:
  void read(std::chrono::milliseconds idle) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser_->body_limit(options_.max_body_bytes);
    // One deadline for the wait and the request: an idle keep-alive and a slow sender both end.
    stream_.expires_after(idle + options_.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  // A client that waits for "100 Continue" before its body (curl does, above 1 KB) gets it, unless
  // the body is refused already by its declared length.
  void on_header(boost::beast::error_code ec) {
    if (ec || parser_->is_done()) return on_read(ec);
    const auto& header = parser_->get();
    const auto expect = header[http::field::expect];
    const auto length = parser_->content_length();
    if (!::tollgate::detail::iequals(std::string_view(expect.data(), expect.size()), "100-continue") ||
        (length && *length > options_.max_body_bytes))
      return read_body();
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    boost::asio::async_write(stream_, boost::asio::buffer(continue_line.data(), continue_line.size()),
                             [self = shared_from_this()](boost::beast::error_code write_ec, std::size_t) {
                               if (write_ec) return self->close();
                               self->read_body();
                             });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == boost::beast::error::timeout || ec == boost::asio::error::operation_aborted)
      return close();
    if (ec) {
      // Answer what can be answered (a request too large, malformed), then close.
      int status = 400;
      std::string detail = "Malformed HTTP request";
      if (ec == http::error::body_limit) {
        status = 413;
        detail = fmt::format("Request body larger than {} bytes", options_.max_body_bytes);
      } else if (ec == http::error::header_limit) {
        status = 431;
        detail = fmt::format("Request headers larger than {} bytes", options_.max_header_bytes);
      } else if (ec == boost::asio::error::connection_reset || ec == boost::asio::error::eof ||
                 ec == http::error::partial_message) {
        return close();
      }
      res_.emplace();
      ::tollgate::detail::write_error(*res_, status, detail);
      res_->keep_alive(false);
      return write(false);
    }
    req_.emplace(parser_->release());
    res_.emplace();
    res_->version(req_->version());
    bool known_path = false;
    const route_handler* handler = routes_->find(req_->method(), req_->path(), known_path);
    if (handler == nullptr) {
      ::tollgate::detail::write_error(*res_, known_path ? 405 : 404, known_path ? "Method not allowed" : "Not found");
      if (known_path) res_->set(http::field::allow, routes_->allowed(req_->path()));
      return write(req_->method() == http::verb::head);
    }
    stream_.expires_never();  // the route may wait for its ledger; its own deadlines bound that
    (*handler)(*req_, *res_, executor_, [self = shared_from_this()] { self->write(self->req_->method() == http::verb::head); });
  }

  void write(bool head_only) {
    res_->keep_alive(req_ && req_->keep_alive() && res_->keep_alive());
    if (req_) res_->version(req_->version());
    async_write_response(stream_, *res_, head_only, options_.write_timeout, [self = shared_from_this()](boost::beast::error_code ec) { self->on_write(ec); });
  }

  void on_write(boost::beast::error_code ec) {
    const bool keep_alive = !ec && res_->keep_alive();
    res_.reset();  // settles nothing here: a stream's charge already heard how it ended
    req_.reset();
    if (!keep_alive) return close();
    read(std::chrono::duration_cast<std::chrono::milliseconds>(options_.keep_alive_timeout));
  }

  void close() {
    boost::beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  boost::beast::tcp_stream stream_;
  boost::asio::any_io_executor executor_;  // the stream's strand, tracking work while the session lives
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<const router> routes_;
  std::shared_ptr<const server_options> owned_options_;  // a session may outlive its server
  const server_options& options_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<request> req_;
  std::optional<response> res_;
};

}  // namespace detail

/// Accepts connections on the caller's io_context and serves `routes` on them. Run the context on
/// one thread or many: each connection has its own strand. The io_context must outlive the ledgers
/// behind the routes: a ledger answering after it is gone would resume a request into freed memory
/// (create it first, destroy it last).
///
///     boost::asio::io_context io;
///     tollgate::beast::server server(io, std::move(routes));
///     const auto port = server.listen("127.0.0.1", 8080);
///     io.run();
class server {
 public:
  server(boost::asio::io_context& io, router routes, server_options options = {})
      : io_(io), acceptor_(boost::asio::make_strand(io)), retry_(acceptor_.get_executor()), routes_(std::make_shared<const router>(std::move(routes))),
        options_(std::make_shared<const server_options>(std::move(options))) {}
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; returns the port (pass 0 for any free one). Throws on failure.
  std::uint16_t listen(const std::string& address, std::uint16_t port) {
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(boost::asio::socket_base::max_listen_connections);
    accept();
    return acceptor_.local_endpoint().port();
  }

  /// Stops accepting new connections. Open ones go on until their client closes them or they idle
  /// out (`keep_alive_timeout`); stopping the io_context ends everything at once.
  void stop() {
    boost::asio::dispatch(acceptor_.get_executor(), [this] {
      boost::beast::error_code ignored;
      retry_.cancel();
      acceptor_.close(ignored);
    });
  }

  [[nodiscard]] std::size_t connections() const noexcept { return connections_->load(std::memory_order_relaxed); }

 private:
  void accept() {
    acceptor_.async_accept(boost::asio::make_strand(io_), [this](boost::beast::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        boost::beast::error_code ignored;
        socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);  // small responses go out at once
        if (connections_->fetch_add(1, std::memory_order_relaxed) >= options_->max_connections) {
          connections_->fetch_sub(1, std::memory_order_relaxed);
          socket.close(ignored);
        } else {
          std::make_shared<detail::session>(std::move(socket), routes_, options_, connections_)->start();
        }
      } else {
        // Out of descriptors, most likely: wait a little rather than spin on the error.
        options_->log.warn("beast server: accept failed: {}; retrying in 50 ms", ec.message());
        retry_.expires_after(std::chrono::milliseconds(50));
        retry_.async_wait([this](boost::beast::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) accept();
        });
        return;
      }
      accept();
    });
  }

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;  // on a strand: stop() and the accept loop never race
  boost::asio::steady_timer retry_;
  std::shared_ptr<const router> routes_;
  std::shared_ptr<const server_options> options_;
  std::shared_ptr<std::atomic<std::size_t>> connections_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace tollgate::beast

#endif  // TOLLGATE_ADAPTERS_BEAST_SERVER_HPP
