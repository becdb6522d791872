// Test support: a real redis-server on a free loopback port, in a temporary directory of its own;
// killed, restarted, paused and resumed on demand.
#ifndef TOLLGATE_TESTS_SUPPORT_REDIS_SERVER_HPP
#define TOLLGATE_TESTS_SUPPORT_REDIS_SERVER_HPP

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "child_process.hpp"

namespace tollgate::testing {

/// A port nobody listens on now (the kernel's pick for a socket bound to port 0).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot find a free loopback port");
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// (No `"literal" + std::string` here: g++ 12 at -O3 reports a false -Wrestrict on it.)

/// Runs one command on a fresh connection to 127.0.0.1:port; the reply as text (integers in
/// decimal, arrays joined by spaces), or throws. For tests' own looks at the data.
inline std::string redis_command(int port, const std::vector<std::string>& args) {
  timeval tv{2, 0};
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnectWithTimeout("127.0.0.1", port, tv), redisFree);
  if (!c || c->err) throw std::runtime_error(fmt::format("cannot connect to redis on {}", port));
  redisSetTimeout(c.get(), tv);
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<redisReply, void (*)(void*)> r(static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(args.size()), argv.data(), lens.data())),
                                                  freeReplyObject);
  if (!r) throw std::runtime_error(fmt::format("redis on {} did not answer", port));
  auto text = [](const redisReply& e) -> std::string {
    if (e.type == REDIS_REPLY_INTEGER) return std::to_string(e.integer);
    if (e.type == REDIS_REPLY_NIL) return "(nil)";
    return std::string(e.str, e.len);
  };
  if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(fmt::format("redis error: {}", text(*r)));
  if (r->type != REDIS_REPLY_ARRAY) return text(*r);
  std::string out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    if (i != 0) out += ' ';
    out += text(*r->element[i]);
  }
  return out;
}

/// A redis-server process. `extra` arguments go on its command line (e.g. {"--cluster-enabled", "yes"}).
class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra = {}, bool aof_always = false)
      : dir_(std::filesystem::temp_directory_path() / fmt::format("tollgate-redis-{}-{}", ::getpid(), counter()++)),
        extra_(std::move(extra)),
        aof_always_(aof_always) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (int attempt = 0;; ++attempt) {
      port_ = free_loopback_port();
      start();
      if (wait_ready(std::chrono::seconds(10))) break;
      process_.reset();
      if (attempt == 4) throw std::runtime_error(fmt::format("redis-server did not start; see {}", (dir_ / "redis.log").string()));
    }
  }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;
  ~redis_server() {
    resume();
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return fmt::format("redis://127.0.0.1:{}", port_); }
  /// Runs one command on this server (see redis_command); throws on an error reply.
  std::string command(const std::vector<std::string>& args) const { return redis_command(port_, args); }

  /// SIGKILL: no goodbye, no final save (AOF with appendfsync always has every acknowledged write).
  void kill() {
    resume();
    if (process_) process_->stop(SIGKILL);
    process_.reset();
  }
  /// Starts again on the same port and directory (so it reloads its AOF).
  void restart() {
    start();
    if (!wait_ready(std::chrono::seconds(10))) throw std::runtime_error("redis-server did not come back");
  }
  /// SIGSTOP: the server accepts connections (the kernel does) but answers nothing.
  void pause() {
    if (process_) ::kill(process_->pid(), SIGSTOP);
    paused_ = true;
  }
  void resume() {
    if (paused_ && process_) ::kill(process_->pid(), SIGCONT);
    paused_ = false;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  void start() {
    std::vector<std::string> argv{TOLLGATE_REDIS_SERVER_BINARY, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--dir", dir_.string(), "--logfile", (dir_ / "redis.log").string(), "--save", "",
                                  "--daemonize", "no", "--protected-mode", "no"};
    if (aof_always_) argv.insert(argv.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_ = std::make_unique<child_process>(argv);
  }
  bool wait_ready(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (redis_command(port_, {"PING"}) == "PONG") return true;
      } catch (const std::exception& e) {
        if (std::string_view(e.what()).find("NOAUTH") != std::string_view::npos) return true;  // up, and wants a login
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::filesystem::path dir_;
  std::vector<std::string> extra_;
  bool aof_always_;
  int port_ = 0;
  bool paused_ = false;
  std::unique_ptr<child_process> process_;
};

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_SUPPORT_REDIS_SERVER_HPP
