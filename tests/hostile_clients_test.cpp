// Hostile clients against every server tollgate ships (the quickstart, the credit server, the
// billing example), each a real process on loopback: 500 idle keep-alive connections (reopened
// whenever the server closes one) and 12 clients sending their headers one byte at a time. A
// well-behaved client must still be answered, on /health and on a route that does real work.
// Latency is printed for the record (BENCHMARKS.md has the measured figures); the assertion is
// that every probe is answered, and within a bound no healthy server comes near.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/jwt/sign.hpp>

#include "support/child_process.hpp"

using tollgate::testing::child_process;
using namespace std::chrono_literals;

namespace {

constexpr int idle_connections = 500;
constexpr int slow_header_clients = 12;
constexpr auto answer_bound = 3s;  // a stalled server misses it by far (it used to be never)

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until the peer closes or `deadline`; what arrived.
std::string read_until_closed(int fd, std::chrono::steady_clock::time_point deadline) {
  std::string text;
  char chunk[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return text;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return text;
    text.append(chunk, static_cast<std::size_t>(n));
  }
}

// The attackers: open at construction, kept open (idle ones reopened) by a thread of their own.
class hostile_clients {
 public:
  hostile_clients(int port, std::string idle_request) : port_(port), idle_request_(std::move(idle_request)) {
    for (int i = 0; i < idle_connections; ++i) idle_.push_back(open_idle());
    for (int i = 0; i < slow_header_clients; ++i) {
      const int fd = connect_to(port_);
      if (fd >= 0) send_all(fd, "GET /health HTTP/1.1\r\n");
      slow_.push_back(fd);
    }
    keeper_ = std::thread([this] { keep_up(); });
  }
  hostile_clients(const hostile_clients&) = delete;
  hostile_clients& operator=(const hostile_clients&) = delete;
  ~hostile_clients() {
    stop_ = true;
    keeper_.join();
    for (int fd : idle_) ::close(fd);
    for (int fd : slow_) ::close(fd);
  }

  [[nodiscard]] int idle_open() const { return idle_open_; }
  [[nodiscard]] int reopened() const { return reopened_; }

 private:
  // One request answered, then nothing: the connection stays open on keep-alive.
  int open_idle() {
    const int fd = connect_to(port_);
    if (fd >= 0) send_all(fd, idle_request_);
    return fd;
  }

  void keep_up() {
    auto next_drip = std::chrono::steady_clock::now();
    std::vector<pollfd> polled(idle_.size());
    char sink[4096];
    while (!stop_) {
      for (std::size_t i = 0; i < idle_.size(); ++i) polled[i] = {idle_[i], POLLIN, 0};
      ::poll(polled.data(), polled.size(), 50);
      for (std::size_t i = 0; i < idle_.size(); ++i) {
        if (idle_[i] >= 0 && (polled[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        if (idle_[i] >= 0 && ::recv(idle_[i], sink, sizeof sink, MSG_DONTWAIT) > 0) continue;  // the answer: drained
        if (idle_[i] >= 0) ::close(idle_[i]);  // closed by the server (idle timeout): an attacker opens another
        idle_[i] = open_idle();
        ++reopened_;
      }
      idle_open_ = static_cast<int>(std::count_if(idle_.begin(), idle_.end(), [](int fd) { return fd >= 0; }));
      if (std::chrono::steady_clock::now() >= next_drip) {  // one more header byte, forever
        for (int fd : slow_)
          if (fd >= 0) send_all(fd, "X");
        next_drip += 500ms;
      }
    }
  }

  int port_;
  std::string idle_request_;
  std::vector<int> idle_, slow_;
  std::atomic<bool> stop_{false};
  std::atomic<int> reopened_{0}, idle_open_{0};
  std::thread keeper_;
};

struct probe_result {
  int answered = 0, probes = 0;
  std::vector<double> latencies_ms;
  [[nodiscard]] double quantile(double q) const {
    auto sorted = latencies_ms;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? 0.0 : sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
  }
};

// A well-behaved client: a fresh connection per request, as a load balancer's health check does.
void probe(int port, const std::string& request, probe_result& result) {
  const auto start = std::chrono::steady_clock::now();
  ++result.probes;
  const int fd = connect_to(port);
  if (fd < 0) return;
  std::string answer;
  if (send_all(fd, request)) answer = read_until_closed(fd, start + answer_bound);
  ::close(fd);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  result.latencies_ms.push_back(ms);
  if (answer.rfind("HTTP/1.1 200", 0) == 0 && ms < std::chrono::duration<double, std::milli>(answer_bound).count()) ++result.answered;
}

std::string get(const std::string& path, const std::string& extra_headers = "", bool close = true) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}{}\r\n", path, extra_headers, close ? "Connection: close\r\n" : "");
}

void check_server_under_attack(const char* name, int port, const std::string& health, const std::string& work) {
  hostile_clients attackers(port, get("/health", "", false));
  std::this_thread::sleep_for(500ms);  // the attack is in place
  probe_result health_result, work_result;
  const auto end = std::chrono::steady_clock::now() + 6s;  // longer than the 5 s keep-alive: idle ones get reopened
  while (std::chrono::steady_clock::now() < end) {
    probe(port, health, health_result);
    probe(port, work, work_result);
    std::this_thread::sleep_for(100ms);
  }
  MESSAGE(fmt::format("{} under {} idle + {} slow-header clients ({} idle reopened): health {}/{} answered, p50 {:.1f} ms, "
                      "p99 {:.1f} ms; work {}/{} answered, p50 {:.1f} ms, p99 {:.1f} ms",
                      name, attackers.idle_open(), slow_header_clients, attackers.reopened(), health_result.answered,
                      health_result.probes, health_result.quantile(0.5), health_result.quantile(0.99), work_result.answered,
                      work_result.probes, work_result.quantile(0.5), work_result.quantile(0.99)));
  CHECK(attackers.idle_open() >= idle_connections * 9 / 10);  // the attack really held its connections
  CHECK(health_result.probes >= 10);
  CHECK(health_result.answered == health_result.probes);
  CHECK(work_result.answered == work_result.probes);
}

}  // namespace

TEST_CASE("hostile clients: the quickstart keeps answering /health and a metered route") {
  child_process server({TOLLGATE_QUICKSTART_BINARY, "--port", "0"});
  const int port = server.read_port();
  check_server_under_attack("quickstart", port, get("/health"), get("/api/simple", "X-User-ID: test-user-1\r\n"));
}

TEST_CASE("hostile clients: the credit server keeps answering health and its API") {
  child_process server({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", "hostile-test-token", "--seed",
                        TOLLGATE_SOURCE_DIR "/examples/credit_server/seed.json", "--log-level", "error"});
  const int port = server.read_port();
  check_server_under_attack("credit server", port, get("/health"),
                            get("/v1/users/test-user-1", "Authorization: Bearer hostile-test-token\r\n"));
}

TEST_CASE("hostile clients: the billing example keeps answering /health and /billing/limits") {
  const std::string secret = "hostile-test-secret-123456";
  child_process server({TOLLGATE_BILLING_EXAMPLE_BINARY, "--port", "0", "--secret", secret});
  const int port = server.read_port();
  const auto now = static_cast<long long>(std::time(nullptr));
  const std::string jwt = tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, secret);
  check_server_under_attack("billing example", port, get("/health"),
                            get("/billing/limits", fmt::format("Authorization: Bearer {}\r\ntenant-id: org-1\r\nx-plan-type: growth\r\n", jwt)));
}
