// Tests of the Boost.Beast adapter over real loopback HTTP: the message types, the server's bounds,
// metered routes on the non-blocking path, streamed bodies, and the Asio completion tokens.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>
#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
using tollgate::credits;
namespace http = boost::beast::http;
using tollgate::beast::request;
using tollgate::beast::response;
using user_header = tollgate::from_header<"X-User-ID">;

namespace {

request make_request(http::verb method, std::string target, std::string body = {}) {
  http::request<http::string_body> message(method, target, 11);
  message.body() = std::move(body);
  return request(std::move(message));
}

// A server on its own io thread: one thread, as an event-loop service runs.
struct beast_server {
  boost::asio::io_context io{1};
  tollgate::beast::server server;
  int port;
  std::thread thread;
  explicit beast_server(tollgate::beast::router routes, tollgate::beast::server_options options = {})
      : server(io, std::move(routes), std::move(options)), port(server.listen("127.0.0.1", 0)), thread([this] { io.run(); }) {}
  ~beast_server() {
    io.stop();
    thread.join();
  }
  [[nodiscard]] httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(10));
    return c;
  }
};

struct funded_ledger {
  tollgate::memory_ledger ledger;
  funded_ledger() {
    ledger.add_user("alice", 10_cr);
    ledger.add_credential("alice", "alice");
    ledger.add_user("broke", 0_cr);
    ledger.add_credential("broke", "broke");
  }
  credits balance() { return ledger.balance("alice").value(); }
  bool nothing_held() { return ledger.summary().locks.empty(); }
};

// A blocking ledger whose locks wait until the test opens the gate: a credit service that hangs.
struct gated_ledger {
  using ledger_concept = tollgate::ledger_t;
  explicit gated_ledger(tollgate::memory_ledger& store) : inner(store) {}
  tollgate::memory_ledger& inner;
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;

  void let_through() {
    {
      std::lock_guard guard(mutex);
      open = true;
    }
    opened.notify_all();
  }
  std::atomic<int> waiting{0};

  tollgate::result<tollgate::lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    std::unique_lock guard(mutex);
    ++waiting;
    opened.wait(guard, [this] { return open; });
    --waiting;
    return inner.lock(credential, amount, key);
  }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) { return inner.settle(id, cost); }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return inner.release(id); }
  bool health() { return true; }
};

// Opens the gate when the scope ends, so a failed check cannot leave a worker blocked forever.
struct gate_opener {
  std::function<void()> open;
  ~gate_opener() { open(); }
};

// Reads everything a raw socket sends until the peer closes or `limit` bytes.
std::string raw_exchange(int port, const std::string& bytes_out, std::size_t limit = 1 << 20) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (!bytes_out.empty()) REQUIRE(::send(fd, bytes_out.data(), bytes_out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes_out.size()));
  std::string in;
  char buffer[4096];
  while (in.size() < limit) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    in.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return in;
}

}  // namespace

TEST_CASE("beast adapter: the request decodes its path and query once") {
  const request req = make_request(http::verb::get, "/a%20b?x=1&name=J%C3%B6rg+K&empty=&flag&x=2&bad=%zz#frag");
  CHECK(req.path() == "/a b");
  CHECK(req.query("x") == "1");  // the first of repeated parameters
  CHECK(req.query("name") == "J\xC3\xB6rg K");
  CHECK(req.query("empty") == "");
  CHECK(req.query("flag") == "");
  CHECK(req.query("bad") == "%zz");  // a malformed escape is kept as sent
  CHECK_FALSE(req.query("frag").has_value());
  CHECK_FALSE(req.query("missing").has_value());
  CHECK(req.params().size() == 6);
}

TEST_CASE("beast adapter: traits read and write Beast messages, and handlers may take Beast's own types") {
  request req = make_request(http::verb::post, "/x", "payload");
  req.set("X-User-ID", "alice");
  req.set("X-Empty", "");
  const tollgate::request_ref view(req);
  CHECK(view.header("x-user-id") == "alice");
  CHECK(view.header("X-Empty") == "");  // Beast keeps empty values
  CHECK(view.method() == "POST");
  CHECK(view.body() == "payload");
  CHECK(view.native<request>() == &req);
  CHECK(view.native<http::request<http::string_body>>() == &req);
  CHECK(view.native<tollgate::basic_request>() == nullptr);

  response res;
  const tollgate::response_ref out(res);
  out.set_header("X-A", "1");
  out.set_header("x-a", "2");  // replaces
  CHECK(out.header("X-A") == "2");
  CHECK(std::distance(res.begin(), res.end()) == 1);
  out.set_content("{}", "application/json");
  CHECK(out.status() == 200);
  CHECK(out.body_size() == 2);
  CHECK(out.native<http::response<http::string_body>>() == &res);

  // A metered handler in Beast's own types.
  funded_ledger f;
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.25_cr>> route{
      f.ledger, [](const http::request<http::string_body>& r, http::response<http::string_body>& w) {
        w.body() = std::string(r.body());
        w.result(http::status::created);
      }};
  route(req, res);
  CHECK(res.result() == http::status::created);
  CHECK(res.body() == "payload");
  CHECK(f.balance() == 9.75_cr);
}

TEST_CASE("beast adapter: metered routes over loopback — paid, anonymous, refused, unknown, throwing") {
  funded_ledger f;
  tollgate::beast::router routes;
  routes.get("/paid", tollgate::metered<user_header, tollgate::estimate<2_cr>, tollgate::fixed_cost<1.5_cr>>{
                          f.ledger, [](const request&, response& res) { res.body() = "ok"; }});
  routes.get("/throws", tollgate::metered<user_header, tollgate::estimate<2_cr>, tollgate::fixed_cost<1.5_cr>>{
                            f.ledger, [](const request&, response&) -> void { throw std::runtime_error("boom"); }});
  beast_server s(std::move(routes));
  auto client = s.client();

  auto paid = client.Get("/paid", {{"X-User-ID", "alice"}});
  REQUIRE(paid);
  CHECK(paid->status == 200);
  CHECK(paid->body == "ok");
  CHECK(f.balance() == 8.5_cr);

  auto anonymous = client.Get("/paid");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  CHECK(anonymous->body.find("\"detail\"") != std::string::npos);

  auto broke = client.Get("/paid", {{"X-User-ID", "broke"}});
  REQUIRE(broke);
  CHECK(broke->status == 402);

  auto unknown = client.Get("/paid", {{"X-User-ID", "nobody"}});
  REQUIRE(unknown);
  CHECK(unknown->status == 404);

  auto thrown = client.Get("/throws", {{"X-User-ID", "alice"}});
  REQUIRE(thrown);
  CHECK(thrown->status == 500);
  CHECK(f.balance() == 8.5_cr);  // refunded in full
  CHECK(f.nothing_held());

  auto head = client.Head("/paid", {{"X-User-ID", "alice"}});
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(head->get_header_value("Content-Length") == "2");
  CHECK(f.balance() == 7_cr);
}

// One micro-credit per byte the client accepted, and what the calculator was told.
struct per_byte_recorded {
  static inline std::atomic<std::size_t> last_bytes{0};
  credits operator()(const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context& ctx) const {
    last_bytes = ctx.response_bytes();
    return credits::from_micros(static_cast<std::int64_t>(ctx.response_bytes()));
  }
};

TEST_CASE("beast adapter: a streamed body is settled after its last chunk, for what was delivered") {
  funded_ledger f;
  tollgate::beast::router routes;
  routes.get("/stream", tollgate::metered<user_header, tollgate::estimate<5_cr>, per_byte_recorded>{
                            f.ledger, [](const request& req, response& res) {
                              const int chunks = std::stoi(std::string(req.query("chunks").value_or("10")));
                              res.set_chunked_content("text/plain", [chunks, sent = 0](tollgate::beast::chunk_sink& sink) mutable {
                                if (sent == chunks) {
                                  sink.done();
                                  return true;
                                }
                                ++sent;
                                sink.write(std::string(100, 'x'));
                                return true;
                              });
                            }});
  beast_server s(std::move(routes));
  auto client = s.client();
  auto res = client.Get("/stream?chunks=10", {{"X-User-ID", "alice"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == std::string(1000, 'x'));
  for (int i = 0; i < 200 && !f.nothing_held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(f.nothing_held());
  CHECK(per_byte_recorded::last_bytes == 1000);
  CHECK(f.balance() == 10_cr - credits::from_micros(1000));

  // A client that reads a little of a long stream (10 MB) and hangs up pays for what the server
  // got through to it — capped at the 5 held — and the lock is settled all the same.
  const credits before = f.balance();
  per_byte_recorded::last_bytes = 0;
  const std::string got = raw_exchange(s.port, "GET /stream?chunks=100000 HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\n\r\n", 4096);
  CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
  for (int i = 0; i < 400 && !f.nothing_held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(f.nothing_held());
  const std::size_t delivered = per_byte_recorded::last_bytes;
  CHECK(delivered >= 3000);           // about what the client read (4 KB with headers and chunk framing)
  CHECK(delivered < 100000 * 100);    // not the whole stream
  CHECK(before - f.balance() == std::min(credits::from_micros(static_cast<std::int64_t>(delivered)), 5_cr));
}

TEST_CASE("beast adapter: the server answers bad requests with a JSON detail and bounds every connection") {
  tollgate::beast::router routes;
  routes.get("/health", [](const request&, response& res) { res.body() = "ok"; });
  routes.post("/echo", [](const request& req, response& res) { res.body() = req.body(); });
  tollgate::beast::server_options options;
  options.max_body_bytes = 1024;
  options.max_header_bytes = 2048;
  options.read_timeout = std::chrono::milliseconds(300);
  options.keep_alive_timeout = std::chrono::seconds(0);
  beast_server s(std::move(routes), options);
  auto client = s.client();

  auto missing = client.Get("/nowhere");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body.find("\"detail\"") != std::string::npos);
  auto wrong_method = client.Delete("/health");
  REQUIRE(wrong_method);
  CHECK(wrong_method->status == 405);

  auto too_big = client.Post("/echo", std::string(4096, 'b'), "text/plain");
  REQUIRE(too_big);
  CHECK(too_big->status == 413);
  CHECK(too_big->body.find("\"detail\"") != std::string::npos);
  auto echoed = client.Post("/echo", std::string(1000, 'b'), "text/plain");
  REQUIRE(echoed);
  CHECK(echoed->body.size() == 1000);

  const std::string big_headers = raw_exchange(s.port, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'h') + "\r\n\r\n");
  CHECK(big_headers.rfind("HTTP/1.1 431", 0) == 0);
  const std::string garbage = raw_exchange(s.port, "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);

  // An idle connection and a slow sender are both closed after the read timeout.
  const auto started = std::chrono::steady_clock::now();
  CHECK(raw_exchange(s.port, "").empty());
  CHECK(raw_exchange(s.port, "GET /health HTTP/1.1\r\nHo").empty());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  for (int i = 0; i < 100 && s.server.connections() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.server.connections() == 0);
}

TEST_CASE("beast adapter: while the ledger hangs, the loop's only thread keeps serving other routes") {
  tollgate::memory_ledger store;
  store.add_user("alice", 10_cr);
  store.add_credential("alice", "alice");
  gated_ledger gate(store);
  tollgate::offloading_ledger ledger(gate, {.threads = 2, .queue_capacity = 16, .log = tollgate::logger::silent()});
  tollgate::beast::router routes;
  routes.get("/paid", tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<1_cr>>{
                          ledger, [](const request&, response& res) { res.body() = "paid"; }});
  routes.get("/health", [](const request&, response& res) { res.body() = "ok"; });
  beast_server s(std::move(routes));
  const gate_opener opener{[&] { gate.let_through(); }};  // even if a check below fails

  auto paid = std::async(std::launch::async, [&] { return s.client().Get("/paid", {{"X-User-ID", "alice"}}); });
  for (int i = 0; i < 1000 && gate.waiting == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(gate.waiting == 1);  // the lock is at the gate now
  auto health = s.client();
  for (int i = 0; i < 10; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto res = health.Get("/health");
    REQUIRE(res);
    CHECK(res->body == "ok");
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
  }
  CHECK(paid.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);  // still waiting on the ledger
  gate.let_through();
  auto answered = paid.get();
  REQUIRE(answered);
  CHECK(answered->status == 200);
  CHECK(answered->body == "paid");
  CHECK(store.balance("alice") == 9_cr);
}

TEST_CASE("beast adapter: tollgate::asio::async_call completes through any completion token") {
  funded_ledger f;
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.5_cr>> route{
      f.ledger, [](const tollgate::request_ref&, const tollgate::response_ref& res) { res.set_content("ok", "text/plain"); }};
  const auto req = tollgate::basic_request{}.with_header("X-User-ID", "alice");
  boost::asio::io_context io;

  SUBCASE("a callback, never invoked inside the initiating call") {
    tollgate::basic_response res;
    bool completed = false;
    tollgate::asio::async_call(route, req, res, io.get_executor(), [&] { completed = true; });
    CHECK_FALSE(completed);
    io.run();
    CHECK(completed);
    CHECK(res.body() == "ok");
    CHECK(f.balance() == 9.5_cr);
  }
  SUBCASE("use_future") {
    tollgate::basic_response res;
    std::thread runner;
    auto done = tollgate::asio::async_call(route, req, res, io.get_executor(), boost::asio::use_future);
    runner = std::thread([&] { io.run(); });
    CHECK(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    done.get();
    runner.join();
    CHECK(res.status() == 200);
    CHECK(f.balance() == 9.5_cr);
  }
#if defined(BOOST_ASIO_HAS_CO_AWAIT)  // Boost 1.74 enables coroutines on g++ only
  SUBCASE("use_awaitable, and an anonymous request completes without a ledger call") {
    tollgate::basic_response paid, anonymous;
    int finished = 0;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          auto executor = co_await boost::asio::this_coro::executor;
          co_await tollgate::asio::async_call(route, req, paid, executor, boost::asio::use_awaitable);
          // Named: g++ 12 mishandles the lifetime of a temporary inside a co_await expression (it crashed here).
          const tollgate::basic_request nobody;
          co_await tollgate::asio::async_call(route, nobody, anonymous, executor, boost::asio::use_awaitable);
          ++finished;
        },
        boost::asio::detached);
    io.run();
    CHECK(finished == 1);
    CHECK(paid.status() == 200);
    CHECK(anonymous.status() == 401);
    CHECK(f.balance() == 9.5_cr);
  }
#endif
}

namespace {
// A streamed route of `chunks` × 100 bytes, priced per byte delivered.
tollgate::metered<user_header, tollgate::estimate<5_cr>, per_byte_recorded> streamed_route(tollgate::memory_ledger& ledger) {
  return {ledger, [](const request& req, response& res) {
            const int chunks = std::stoi(std::string(req.query("chunks").value_or("3")));
            res.insert(http::field::set_cookie, "a=1");
            res.insert(http::field::set_cookie, "b=2");
            res.set_chunked_content("text/plain", [chunks, sent = 0](tollgate::beast::chunk_sink& sink) mutable {
              if (sent == chunks) {
                sink.done();
                return true;
              }
              ++sent;
              sink.write(std::string(100, 'x'));
              return true;
            });
          }};
}
}  // namespace

TEST_CASE("beast adapter: HEAD, HTTP/1.0 and repeated headers on a streamed route") {
  funded_ledger f;
  tollgate::beast::router routes;
  routes.get("/stream", streamed_route(f.ledger));
  beast_server s(std::move(routes));

  SUBCASE("HEAD: the headers a GET would send, no body, nothing charged, the lock settled") {
    const std::string got = raw_exchange(s.port, "HEAD /stream HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\nConnection: close\r\n\r\n");
    CHECK(got.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(got.find("Transfer-Encoding: chunked") != std::string::npos);
    CHECK(got.find("xxxx") == std::string::npos);
    CHECK(got.substr(got.size() - 4) == "\r\n\r\n");  // the header block and nothing after it
    for (int i = 0; i < 200 && !f.nothing_held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(f.nothing_held());
    CHECK(f.balance() == 10_cr);
  }
  SUBCASE("HTTP/1.0: no chunked coding; the body ends when the server closes; charged exactly") {
    const std::string got = raw_exchange(s.port, "GET /stream?chunks=3 HTTP/1.0\r\nX-User-ID: alice\r\n\r\n");
    CHECK(got.rfind("HTTP/1.0 200", 0) == 0);
    CHECK(got.find("Transfer-Encoding") == std::string::npos);
    CHECK(got.substr(got.find("\r\n\r\n") + 4) == std::string(300, 'x'));
    for (int i = 0; i < 200 && !f.nothing_held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(f.balance() == 10_cr - credits::from_micros(300));
  }
  SUBCASE("repeated headers all reach the client") {
    const std::string got = raw_exchange(s.port, "GET /stream HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\nConnection: close\r\n\r\n");
    CHECK(got.find("Set-Cookie: a=1") != std::string::npos);
    CHECK(got.find("Set-Cookie: b=2") != std::string::npos);
  }
}

TEST_CASE("beast adapter: throwing handlers and sources never stop the loop; each lock is settled") {
  funded_ledger f;
  tollgate::beast::router routes;
  routes.get("/not-std", [](const request&, response&) { throw 42; });
  routes.get("/source-throws", tollgate::metered<user_header, tollgate::estimate<1_cr>, per_byte_recorded>{
                                   f.ledger, [](const request& req, response& res) {
                                     const bool std_error = req.query("std").has_value();
                                     res.set_chunked_content("text/plain", [std_error, sent = 0](tollgate::beast::chunk_sink& sink) mutable {
                                       if (sent++ == 2) {
                                         if (std_error) throw std::runtime_error("upstream failed");
                                         throw 42;
                                       }
                                       sink.write("0123456789");
                                       return true;
                                     });
                                   }});
  routes.get("/health", [](const request&, response& res) { res.body() = "ok"; });
  beast_server s(std::move(routes));
  auto client = s.client();

  auto not_std = client.Get("/not-std");
  REQUIRE(not_std);
  CHECK(not_std->status == 500);
  CHECK(not_std->body.find("\"detail\"") != std::string::npos);
  for (const char* path : {"/source-throws?std=1", "/source-throws"}) {
    CAPTURE(path);
    const credits before = f.balance();
    const std::string got = raw_exchange(s.port, fmt::format("GET {} HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\n\r\n", path));
    CHECK(got.find("0123456789") != std::string::npos);
    CHECK(got.find("\r\n0\r\n\r\n") == std::string::npos);  // aborted: no last chunk, the client sees a cut stream
    for (int i = 0; i < 200 && !f.nothing_held(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(f.nothing_held());
    CHECK(before - f.balance() == credits::from_micros(20));  // the two chunks delivered
  }
  auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->body == "ok");
}

TEST_CASE("beast adapter: 405 names the allowed methods; Expect: 100-continue is answered") {
  tollgate::beast::router routes;
  routes.get("/health", [](const request&, response& res) { res.body() = "ok"; });
  routes.post("/echo", [](const request& req, response& res) { res.body() = req.body(); });
  beast_server s(std::move(routes));
  auto client = s.client();
  auto wrong = client.Put("/health", "", "text/plain");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  CHECK(wrong->get_header_value("Allow") == "HEAD, GET");

  // A client that waits for 100 Continue before sending its body.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(s.port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  char buffer[512];
  const auto n = ::recv(fd, buffer, sizeof buffer, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buffer, static_cast<std::size_t>(n)) == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(::send(fd, "hello", 5, MSG_NOSIGNAL) == 5);
  std::string answer;
  for (ssize_t got = 0; (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(got));
  ::close(fd);
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.substr(answer.size() - 5) == "hello");
}

TEST_CASE("beast adapter: an asynchronous route answers when its own work does, and the loop serves others meanwhile") {
  tollgate::beast::router routes;
  std::atomic<int> heads{0};
  // Answers 300 ms later from a timer: work of its own that the loop does not wait for.
  routes.get("/later", [&heads](const request& req, response& res, const boost::asio::any_io_executor& executor, tollgate::unique_task done) {
    if (req.method() == http::verb::head) ++heads;
    auto timer = std::make_shared<boost::asio::steady_timer>(executor, std::chrono::milliseconds(300));
    timer->async_wait([timer, &res, done = std::move(done)](boost::system::error_code) mutable {
      res.body() = "later";
      std::move(done)();
    });
  });
  routes.get("/health", [](const request&, response& res) { res.body() = "ok"; });
  beast_server s(std::move(routes));
  auto slow = std::async(std::launch::async, [&] { return s.client().Get("/later"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto started = std::chrono::steady_clock::now();
  auto health = s.client().Get("/health");
  REQUIRE(health);
  CHECK(health->body == "ok");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(200));
  auto later = slow.get();
  REQUIRE(later);
  CHECK(later->status == 200);
  CHECK(later->body == "later");
  auto head = s.client().Head("/later");  // one handler serves HEAD and GET
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(heads == 1);
}

TEST_CASE("beast adapter: a metered route whose ledger has no async forms is refused when registered") {
  tollgate::memory_ledger store;
  struct blocking_only {
    using ledger_concept = tollgate::ledger_t;
    tollgate::memory_ledger& inner;
    tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) { return inner.lock(c, a, k); }
    tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) { return inner.settle(id, cost); }
    tollgate::result<tollgate::settlement> release(std::string_view id) { return inner.release(id); }
    bool health() { return true; }
  } blocking{store};
  tollgate::beast::router routes;
  CHECK_THROWS_AS(routes.get("/paid", tollgate::metered<user_header, tollgate::estimate<1_cr>>{blocking, [](const request&, response&) {}}),
                  std::invalid_argument);
  tollgate::offloading_ledger offloaded(blocking, {.threads = 1, .queue_capacity = 4, .log = tollgate::logger::silent()});
  CHECK_NOTHROW(routes.get("/paid", tollgate::metered<user_header, tollgate::estimate<1_cr>>{offloaded, [](const request&, response&) {}}));
}

TEST_CASE("beast adapter: your own session — async_call and async_write_response with use_future") {
  funded_ledger f;
  const auto route = streamed_route(f.ledger);
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = acceptor.local_endpoint().port();
  auto fetched = std::async(std::launch::async, [port] {
    httplib::Client client("127.0.0.1", port);
    return client.Get("/stream?chunks=4", {{"X-User-ID", "alice"}});
  });

  boost::beast::tcp_stream stream(acceptor.accept());
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> message;
  http::read(stream, buffer, message);
  const request req(std::move(message));
  response res;
  tollgate::asio::async_call(route, req, res, stream.get_executor(), boost::asio::use_future).get();
  res.version(req.version());
  tollgate::beast::async_write_response(stream, res, false, boost::asio::use_future).get();

  auto answer = fetched.get();
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(answer->body == std::string(400, 'x'));
  CHECK(f.nothing_held());  // settled when the last chunk was written
  CHECK(f.balance() == 10_cr - credits::from_micros(400));
  work.reset();
  runner.join();
}
