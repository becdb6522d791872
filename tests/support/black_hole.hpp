// Test support: TCP peers on loopback that misbehave: one never answers, one hangs up mid-call.
#ifndef TOLLGATE_TESTS_SUPPORT_BLACK_HOLE_HPP
#define TOLLGATE_TESTS_SUPPORT_BLACK_HOLE_HPP

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tollgate::testing {

/// A listening socket on a free loopback port; `port` gets the port.
inline int listen_on_loopback(int& port, const char* who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0)
    throw std::runtime_error(std::string(who) + ": cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

/// Accepts every connection, reads nothing, answers nothing: the service that hangs.
class black_hole {
 public:
  black_hole() {
    fd_ = listen_on_loopback(port_, "black_hole");
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c >= 0) {
          held_.push_back(c);
          ++accepted_;
        }
      }
    });
  }
  black_hole(const black_hole&) = delete;
  black_hole& operator=(const black_hole&) = delete;
  ~black_hole() {
    stop_ = true;
    thread_.join();
    for (int c : held_) ::close(c);
    ::close(fd_);
  }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] int accepted() const noexcept { return accepted_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> held_;
  std::thread thread_;
};

/// Reads each request whole, then hangs up without a word on the first `drop_first` connections;
/// answers the others with `answer` (and `Connection: close`): the service that crashes mid-call.
class hang_up_peer {
 public:
  hang_up_peer(int drop_first, std::string answer_body) : drop_first_(drop_first), body_(std::move(answer_body)) {
    fd_ = listen_on_loopback(port_, "hang_up_peer");
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        read_request(c);
        if (accepted_++ >= drop_first_) {
          const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                                    std::to_string(body_.size()) + "\r\n\r\n" + body_;
          (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
        ::close(c);
      }
    });
  }
  hang_up_peer(const hang_up_peer&) = delete;
  hang_up_peer& operator=(const hang_up_peer&) = delete;
  ~hang_up_peer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] int accepted() const noexcept { return accepted_; }

 private:
  // Headers, then Content-Length bytes of body; at most 2 s.
  static void read_request(int c) {
    std::string in;
    char buf[4096];
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < until) {
      const auto end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        const auto at = in.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::stoul(in.substr(at + 16));
        if (in.size() >= end + 4 + length) return;
      }
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const auto got = ::recv(c, buf, sizeof buf, 0);
      if (got <= 0) return;
      in.append(buf, static_cast<std::size_t>(got));
    }
  }

  int drop_first_;
  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

/// A port on loopback where nothing listens (bound, then closed).
inline int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_SUPPORT_BLACK_HOLE_HPP
