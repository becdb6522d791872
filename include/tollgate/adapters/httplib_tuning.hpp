// SPDX-License-Identifier: MIT
// tollgate's network defaults for cpp-httplib servers and clients, in one place: tune(server), tune(client).
#ifndef TOLLGATE_ADAPTERS_HTTPLIB_TUNING_HPP
#define TOLLGATE_ADAPTERS_HTTPLIB_TUNING_HPP

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include <tollgate/detail/json_text.hpp>

namespace tollgate {

namespace detail {

/// httplib's task queue, grown on demand: a worker per waiting connection up to `max_threads`,
/// extra workers retire after `idle_retire` without work. httplib 0.11.4 serves a connection on
/// one worker for its whole keep-alive life, so a fixed pool smaller than the number of open
/// connections leaves the surplus unanswered until another connection closes.
class elastic_thread_pool final : public httplib::TaskQueue {
 public:
  elastic_thread_pool(std::size_t kept_threads, std::size_t max_threads, std::chrono::milliseconds idle_retire)
      : kept_threads_(kept_threads), max_threads_(std::max<std::size_t>(1, max_threads)), idle_retire_(idle_retire) {}
  elastic_thread_pool(const elastic_thread_pool&) = delete;
  elastic_thread_pool& operator=(const elastic_thread_pool&) = delete;
  ~elastic_thread_pool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::vector<std::thread> retired;
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(fn));
      // More jobs waiting than workers waiting for them: start one more, while under the cap.
      if (jobs_.size() > idle_ && threads_.size() < max_threads_) spawn_locked();
      else cv_.notify_one();
      retired.swap(retired_);
    }
    for (auto& t : retired) t.join();
  }

  /// Runs the jobs already queued, then joins every worker. Safe to call twice.
  void shutdown() override {
    std::list<std::thread> threads;
    std::vector<std::thread> retired;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      threads.splice(threads.end(), threads_);
      retired.swap(retired_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
    for (auto& t : retired) t.join();
  }

  /// Workers alive now (for tests and diagnostics).
  [[nodiscard]] std::size_t thread_count() const {
    std::lock_guard lock(mutex_);
    return threads_.size();
  }

 private:
  void spawn_locked() {
    threads_.emplace_back();
    const auto self = std::prev(threads_.end());
    try {
      *self = std::thread([this, self] { work(self); });  // the worker locks mutex_ before using `self`
    } catch (const std::system_error&) {
      threads_.erase(self);  // out of threads: the job waits for a running worker
      cv_.notify_one();
    }
  }

  void work(std::list<std::thread>::iterator self) {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      const bool woken = cv_.wait_for(lock, idle_retire_, [this] { return !jobs_.empty() || stopping_; });
      --idle_;
      if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        lock.lock();
        continue;
      }
      if (stopping_) return;
      if (!woken && threads_.size() > kept_threads_) {
        // Hand our own handle to whoever joins next; `self` belongs to threads_ until stopping_.
        retired_.push_back(std::move(*self));
        threads_.erase(self);
        return;
      }
    }
  }

  const std::size_t kept_threads_;
  const std::size_t max_threads_;
  const std::chrono::milliseconds idle_retire_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> threads_;
  std::vector<std::thread> retired_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

/// Reaches the listening socket httplib keeps in a protected member (0.11.4 has no getter).
struct server_socket_access : httplib::Server {
  /// `listen()` again on the server's socket with a new backlog. stop() may close the socket on
  /// another thread at any moment and its number be reused, so work on a duplicate taken while
  /// the server still held the socket (stop() clears the member before it closes).
  static void relisten(const httplib::Server& server, int backlog) {
    const auto& member = server.*(&server_socket_access::svr_sock_);
    const socket_t sock = member.load();
    if (sock == INVALID_SOCKET) return;
    const int copy = ::fcntl(sock, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return;
    if (member.load() == sock) ::listen(copy, backlog);  // on failure the socket keeps httplib's 5
    ::close(copy);
  }
};

}  // namespace detail

/// tollgate's defaults for an httplib::Server, applied by `tune(server)`. httplib's own defaults
/// suit a demo: no TCP_NODELAY, a reconnect every 5 requests, a listen backlog of 5, 8 workers.
struct server_tuning {
  /// Send small responses at once: without it a response can wait on the peer's delayed ACK (~40 ms).
  bool tcp_nodelay = true;
  /// Requests served on one connection before the server closes it. httplib's 5 makes a busy
  /// client reconnect every 5 requests (TIME_WAIT build-up, ~1 s p99 tails from SYN retries).
  std::size_t keep_alive_max_count = 100'000;
  /// How long an idle keep-alive connection stays open (httplib's 5 s). Kept short on purpose:
  /// httplib gives each connection a worker thread for its whole life, idle time included.
  std::chrono::seconds keep_alive_timeout{5};
  /// Connections the kernel queues before accept() (httplib 0.11.4 hard-codes 5; Linux caps the
  /// value at net.core.somaxconn). Applied when listening starts, by `listen()` again on the socket.
  int listen_backlog = 1024;
  /// Workers kept when idle; more start on demand, one per connection waiting for a worker.
  std::size_t kept_worker_threads = std::max(8u, std::thread::hardware_concurrency());
  /// The cap on workers, i.e. on connections served at once (thread-per-connection: a connection
  /// holds its worker while open, idle or slow). Connections past the cap wait for a worker, so
  /// the cap is what many idle or slow-header clients must exceed to starve everyone else: with
  /// 256, 500 idle keep-alive connections held /health at ~10 s; with 4096 it answered in ~2 ms
  /// (p99 ~0.1 s), using 514 threads and 20 MB. An idle thread costs address space for its stack,
  /// little memory. Past the cap only an event loop (or a proxy in front) helps.
  std::size_t max_worker_threads = std::max(4096u, 32 * std::thread::hardware_concurrency());
  /// How long a worker above `kept_worker_threads` waits for work before it exits.
  std::chrono::milliseconds worker_idle_retire{30'000};
  /// Per socket read and write (httplib's 5 s): bounds a slow or stalled peer.
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};
  /// Largest request body accepted; a larger one is answered 413 before any handler runs.
  std::size_t payload_max_length = std::size_t{1} << 20;
  /// Most request headers, and most header bytes (names and values), accepted; more is answered
  /// 431 before any handler runs. (httplib 0.11.4 already caps one header line at 8 KiB.)
  std::size_t max_header_count = 100;
  std::size_t max_header_bytes = std::size_t{32} << 10;
  /// Answer the statuses httplib makes itself (404 no route, 400, 413, 414, 431) with a JSON
  /// `{"detail": …}` like every tollgate error, instead of an empty body. Replaces the server's
  /// error handler; a handler installed after tune() replaces this one.
  bool json_error_bodies = true;
  /// Let another socket bind the same port (httplib's default on Linux sets SO_REUSEPORT). Off:
  /// a second server on the port fails to start instead of silently taking a share of the
  /// connections; SO_REUSEADDR is still set, so a restart binds past TIME_WAIT.
  bool reuse_port = false;
};

/// Applies `tuning` to `server`; call it before binding. The backlog and the worker pool take
/// effect when listening starts (`listen`, or `bind_to_any_port` then `listen_after_bind`), so a
/// later assignment to `server.new_task_queue` drops both.
///
///     httplib::Server svr;
///     tollgate::tune(svr);
///     const int port = svr.bind_to_any_port("127.0.0.1");
///     svr.listen_after_bind();
inline void tune(httplib::Server& server, const server_tuning& tuning = {}) {
  server.set_tcp_nodelay(tuning.tcp_nodelay);
  server.set_keep_alive_max_count(tuning.keep_alive_max_count);
  server.set_keep_alive_timeout(static_cast<time_t>(tuning.keep_alive_timeout.count()));
  server.set_read_timeout(tuning.read_timeout);
  server.set_write_timeout(tuning.write_timeout);
  server.set_payload_max_length(tuning.payload_max_length);
  if (!tuning.reuse_port) {
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
  }
  // Too many or too large headers: refused before routing; the error handler writes the body.
  server.set_pre_routing_handler([count = tuning.max_header_count, bytes = tuning.max_header_bytes](
                                     const httplib::Request& req, httplib::Response& res) {
    std::size_t total = 0;
    for (const auto& [name, value] : req.headers) total += name.size() + value.size();
    if (req.headers.size() <= count && total <= bytes) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 431;
    return httplib::Server::HandlerResponse::Handled;
  });
  if (tuning.json_error_bodies) {
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // the route wrote its own
      std::string message;
      switch (res.status) {
        case 400: message = "Malformed HTTP request"; break;
        case 404: message = "Not Found"; break;
        case 413: message = "Request body too large"; break;
        case 414: message = "Request URI too long"; break;
        case 431: message = "Too many or too large request headers"; break;
        default: message = "Request failed with status " + std::to_string(res.status); break;
      }
      (void)req;
      res.set_content(detail::detail_body(message), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
  }
  // httplib asks for its task queue once the socket is bound and listening, just before the
  // accept loop: the moment to widen the backlog (Linux lets listen() be called again).
  server.new_task_queue = [&server, tuning]() -> httplib::TaskQueue* {
    detail::server_socket_access::relisten(server, tuning.listen_backlog);
    return new detail::elastic_thread_pool(tuning.kept_worker_threads, tuning.max_worker_threads, tuning.worker_idle_retire);
  };
}

/// tollgate's defaults for an httplib::Client, applied by `tune(client)`. A timeout left empty
/// is not touched, so one the caller already set stays.
struct client_tuning {
  /// Send a request at once: httplib writes headers and body separately, and without it the body
  /// can wait on the server's delayed ACK (~40 ms).
  bool tcp_nodelay = true;
  /// Reuse one connection across requests instead of a TCP handshake per request.
  bool keep_alive = true;
  std::optional<std::chrono::microseconds> connection_timeout{};
  std::optional<std::chrono::microseconds> read_timeout{};
  std::optional<std::chrono::microseconds> write_timeout{};
};

/// Applies `tuning` to `client`; the timeouts it leaves empty keep their current values.
///
///     httplib::Client cli("http://127.0.0.1:3000");
///     cli.set_read_timeout(std::chrono::seconds(2));
///     tollgate::tune(cli);  // TCP_NODELAY and keep-alive; the 2 s read timeout stays
inline void tune(httplib::Client& client, const client_tuning& tuning = {}) {
  client.set_tcp_nodelay(tuning.tcp_nodelay);
  client.set_keep_alive(tuning.keep_alive);
  if (tuning.connection_timeout) client.set_connection_timeout(*tuning.connection_timeout);
  if (tuning.read_timeout) client.set_read_timeout(*tuning.read_timeout);
  if (tuning.write_timeout) client.set_write_timeout(*tuning.write_timeout);
}

}  // namespace tollgate

#endif  // TOLLGATE_ADAPTERS_HTTPLIB_TUNING_HPP
