// tune(server) and tune(client) over real loopback HTTP: keep-alive, TCP_NODELAY, backlog, body limit, workers.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <tollgate/adapters/httplib_tuning.hpp>

#include "support/http_server.hpp"

namespace {

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

// The descriptor of this process's TCP socket with that local port and peer port (0: a
// listening socket), found in /proc/self/fd: what the kernel has, not what tollgate recorded.
int find_socket(int local_port, int peer_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (const dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] == '.' || fd == dirfd(dir)) continue;
    sockaddr_storage local{};
    socklen_t size = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) != 0 || port_of(local) != local_port) continue;
    int listening = 0;
    socklen_t int_size = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &int_size) != 0) continue;
    if (peer_port == 0) {
      if (listening == 0) continue;
    } else {
      sockaddr_storage peer{};
      size = sizeof(peer);
      if (listening != 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0 || port_of(peer) != peer_port) continue;
    }
    found = fd;
    break;
  }
  closedir(dir);
  return found;
}

int tcp_nodelay(int fd) {
  int on = -1;
  socklen_t size = sizeof(on);
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &size) != 0) return -1;
  return on;
}

// The backlog of a listening socket, as `ss -ltn` shows it in Send-Q (TCP_INFO's tcpi_sacked).
int listen_backlog(int fd) {
  tcp_info info{};
  socklen_t size = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
  return static_cast<int>(info.tcpi_sacked);
}

int somaxconn() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int value = 4096;
  in >> value;
  return value;
}

void echo_remote_port(httplib::Server& server) {
  server.Get("/port", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(std::to_string(req.remote_port), "text/plain");
  });
}

// Reports TCP_NODELAY on both ends of the request's connection: "server,client".
void report_nodelay(httplib::Server& server) {
  server.Get("/nodelay", [](const httplib::Request& req, httplib::Response& res) {
    const int server_end = find_socket(req.local_port, req.remote_port);
    const int client_end = find_socket(req.remote_port, req.local_port);
    res.set_content(std::to_string(server_end < 0 ? -1 : tcp_nodelay(server_end)) + "," +
                        std::to_string(client_end < 0 ? -1 : tcp_nodelay(client_end)),
                    "text/plain");
  });
}

std::set<std::string> ports_seen(httplib::Client& client, int requests) {
  std::set<std::string> ports;
  for (int i = 0; i < requests; ++i) {
    auto res = client.Get("/port");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    ports.insert(res->body);
  }
  return ports;
}

}  // namespace

TEST_CASE("httplib_tuning: the defaults are the documented ones") {
  const tollgate::server_tuning s;
  CHECK(s.tcp_nodelay);
  CHECK(s.keep_alive_max_count >= 100'000);
  CHECK(s.keep_alive_timeout <= std::chrono::seconds(5));
  CHECK(s.listen_backlog >= 1024);
  CHECK(s.max_worker_threads >= 4096);
  CHECK(s.payload_max_length == 1024 * 1024);
  CHECK_FALSE(s.reuse_port);
  const tollgate::client_tuning c;
  CHECK(c.tcp_nodelay);
  CHECK(c.keep_alive);
  CHECK_FALSE(c.connection_timeout);
  CHECK_FALSE(c.read_timeout);
  CHECK_FALSE(c.write_timeout);
}

TEST_CASE("httplib_tuning: one keep-alive connection serves 50 sequential requests") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  echo_remote_port(http.server);
  http.start();
  auto client = http.client();
  tollgate::tune(client);
  CHECK(ports_seen(client, 50).size() == 1);  // one client port: one TCP connection

  SUBCASE("httplib's defaults close it every 5 requests (the reason for the tuning)") {
    tollgate::testing::http_server plain;
    echo_remote_port(plain.server);
    plain.start();
    auto c = plain.client();
    tollgate::tune(c);
    CHECK(ports_seen(c, 50).size() == 10);
  }
}

TEST_CASE("httplib_tuning: TCP_NODELAY is set on the accepted socket and on the client's") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  report_nodelay(http.server);
  http.start();
  auto client = http.client();
  tollgate::tune(client);
  auto res = client.Get("/nodelay");
  REQUIRE(res);
  CHECK(res->body == "1,1");

  SUBCASE("without tune, neither end has it") {
    tollgate::testing::http_server plain;
    report_nodelay(plain.server);
    plain.start();
    auto c = plain.client();
    c.set_keep_alive(true);
    auto r = c.Get("/nodelay");
    REQUIRE(r);
    CHECK(r->body == "0,0");
  }
}

TEST_CASE("httplib_tuning: the listen backlog is widened once the server listens") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  echo_remote_port(http.server);
  const int port = http.start();
  auto client = http.client();
  REQUIRE(client.Get("/port"));  // answered: the accept loop, and so the backlog change, has run
  const int fd = find_socket(port, 0);
  REQUIRE(fd >= 0);
  CHECK(listen_backlog(fd) == std::min(1024, somaxconn()));

  SUBCASE("a chosen backlog") {
    tollgate::testing::http_server other;
    tollgate::tune(other.server, {.listen_backlog = 77});
    echo_remote_port(other.server);
    const int other_port = other.start();
    auto c = other.client();
    REQUIRE(c.Get("/port"));
    const int other_fd = find_socket(other_port, 0);
    REQUIRE(other_fd >= 0);
    CHECK(listen_backlog(other_fd) == 77);
  }
  SUBCASE("httplib 0.11.4 alone listens with 5") {
    tollgate::testing::http_server plain;
    echo_remote_port(plain.server);
    const int plain_port = plain.start();
    auto c = plain.client();
    REQUIRE(c.Get("/port"));
    const int plain_fd = find_socket(plain_port, 0);
    REQUIRE(plain_fd >= 0);
    CHECK(listen_backlog(plain_fd) == 5);
  }
}

TEST_CASE("httplib_tuning: a body above the payload limit is answered 413 before the handler") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  int handled = 0;
  http.server.Post("/upload", [&](const httplib::Request& req, httplib::Response& res) {
    ++handled;
    res.set_content(std::to_string(req.body.size()), "text/plain");
  });
  http.start();
  auto client = http.client();
  tollgate::tune(client);

  auto at_limit = client.Post("/upload", std::string(1024 * 1024, 'x'), "application/octet-stream");
  REQUIRE(at_limit);
  CHECK(at_limit->status == 200);
  CHECK(at_limit->body == "1048576");

  auto above = client.Post("/upload", std::string(1024 * 1024 + 1, 'x'), "application/octet-stream");
  REQUIRE(above);
  CHECK(above->status == 413);
  CHECK(above->body == R"({"detail":"Request body too large"})");
  CHECK(handled == 1);
}

TEST_CASE("httplib_tuning: too many or too large headers are answered 431 with a JSON detail, before the handler") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  int handled = 0;
  http.server.Get("/h", [&](const httplib::Request&, httplib::Response& res) {
    ++handled;
    res.set_content("ok", "text/plain");
  });
  http.start();
  auto client = http.client();
  httplib::Headers many;  // the client adds a few of its own (Host, Accept, User-Agent…)
  for (int i = 0; i < 90; ++i) many.emplace(fmt::format("X-H{}", i), "v");
  auto under = client.Get("/h", many);
  REQUIRE(under);
  CHECK(under->status == 200);
  for (int i = 90; i < 100; ++i) many.emplace(fmt::format("X-H{}", i), "v");
  auto above = client.Get("/h", many);
  REQUIRE(above);
  CHECK(above->status == 431);
  CHECK(above->body == R"({"detail":"Too many or too large request headers"})");
  httplib::Headers large;
  for (int i = 0; i < 8; ++i) large.emplace(fmt::format("X-Big{}", i), std::string(5'000, 'b'));
  auto heavy = client.Get("/h", large);
  REQUIRE(heavy);
  CHECK(heavy->status == 431);
  CHECK(handled == 1);
  auto missing = client.Get("/no-such-route");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == R"({"detail":"Not Found"})");
}

TEST_CASE("httplib_tuning: more keep-alive connections than httplib's 8 workers are served at once") {
  // Each handler waits until all of them are inside: only possible with a worker per connection.
  constexpr int connections = 40;
  // Declared before the server, so they outlive its workers.
  std::mutex mutex;
  std::condition_variable cv;
  int inside = 0;
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  http.server.Get("/together", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mutex);
    ++inside;
    cv.notify_all();
    const bool all = cv.wait_for(lock, std::chrono::seconds(20), [&] { return inside >= connections; });
    res.set_content(all ? "all" : "alone", "text/plain");
  });
  http.start();

  std::vector<std::string> answers(connections);
  std::vector<std::thread> clients;
  for (int i = 0; i < connections; ++i) {
    clients.emplace_back([&, i] {
      auto client = http.client();
      tollgate::tune(client, {.read_timeout = std::chrono::seconds(30)});
      if (auto res = client.Get("/together")) answers[i] = res->body;
    });
  }
  for (auto& t : clients) t.join();
  for (const auto& a : answers) CHECK(a == "all");
}

TEST_CASE("httplib_tuning: the worker pool grows on demand, shrinks when idle, and drains on shutdown") {
  tollgate::detail::elastic_thread_pool pool(1, 4, std::chrono::milliseconds(20));
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  int started = 0;
  int finished = 0;
  for (int i = 0; i < 6; ++i) {
    pool.enqueue([&] {
      std::unique_lock lock(mutex);
      ++started;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      ++finished;
    });
  }
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return started == 4; });  // the cap: 4 run, 2 wait
  }
  CHECK(pool.thread_count() == 4);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 1000 && pool.thread_count() > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(pool.thread_count() == 1);  // idle workers above the kept one retired
  pool.enqueue([&] {
    std::lock_guard lock(mutex);
    ++finished;
  });
  pool.shutdown();
  CHECK(finished == 7);
  pool.shutdown();  // httplib calls shutdown() and then deletes: a second call is harmless
}

TEST_CASE("httplib_tuning: tune(client) keeps a timeout the caller chose") {
  // Declared before the server, so they outlive its workers (a handler may still be waking up).
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  http.server.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    res.set_content("late", "text/plain");
  });
  http.start();
  httplib::Client client("127.0.0.1", http.port());
  client.set_read_timeout(std::chrono::milliseconds(300));
  tollgate::tune(client);
  auto res = client.Get("/slow");
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  REQUIRE_FALSE(res);
  CHECK(res.error() == httplib::Error::Read);  // httplib's 5 s default would have waited for "late"
}

TEST_CASE("httplib_tuning: a second server cannot take a port a tuned server listens on") {
  tollgate::testing::http_server http;
  tollgate::tune(http.server);
  const int port = http.start();
  httplib::Server second;
  tollgate::tune(second);
  CHECK_FALSE(second.bind_to_port("127.0.0.1", port));
}
