// Test support: a real cpp-httplib server on an ephemeral loopback port, run on its own thread.
#ifndef TOLLGATE_TESTS_SUPPORT_HTTP_SERVER_HPP
#define TOLLGATE_TESTS_SUPPORT_HTTP_SERVER_HPP

#include <chrono>
#include <stdexcept>
#include <thread>

#include <httplib.h>

namespace tollgate::testing {

/// Owns an httplib::Server; `start()` binds 127.0.0.1:0 and serves until destruction.
class http_server {
 public:
  httplib::Server server;

  http_server() = default;
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server() {
    server.stop();
    if (thread_.joinable()) thread_.join();
  }

  int start() {
    port_ = server.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
    thread_ = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 200 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return port_;
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(std::chrono::seconds(5));
    c.set_read_timeout(std::chrono::seconds(10));
    return c;
  }

 private:
  int port_ = 0;
  std::thread thread_;
};

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_SUPPORT_HTTP_SERVER_HPP
