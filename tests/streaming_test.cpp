// Tests of metered streams over real HTTP: settled after the last chunk, charged what was delivered.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/tollgate.hpp>

#include "support/http_server.hpp"

using namespace tollgate::literals;
using tollgate::credits;

namespace {

constexpr std::size_t chunk_size = 1024;

struct streaming_fixture {
  tollgate::memory_ledger ledger;
  tollgate::testing::http_server http;
  std::shared_ptr<std::atomic<std::size_t>> written = std::make_shared<std::atomic<std::size_t>>(0);

  streaming_fixture() {
    ledger.add_user("u", 1000_cr);
    ledger.add_credential("u", "u");
    // 0.1 + 1 credit per KB delivered; the provider counts what the client accepted, as we do.
    http.server.Get("/stream", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<500_cr>,
                                                 tollgate::by_response_size<0.1_cr, 1_cr>>{
                                   ledger, [w = written](const httplib::Request& req, httplib::Response& res) {
                                     const int chunks = std::stoi(req.get_param_value("chunks"));
                                     const int explode_after = req.has_param("explode") ? std::stoi(req.get_param_value("explode")) : -1;
                                     auto sent = std::make_shared<int>(0);
                                     res.set_chunked_content_provider("application/octet-stream",
                                       [w, chunks, explode_after, sent](std::size_t, httplib::DataSink& sink) {
                                         if (*sent == explode_after) throw std::runtime_error("model server went away");
                                         if (*sent == chunks) {
                                           sink.done();
                                           return true;
                                         }
                                         const std::string chunk(chunk_size, 'a');
                                         if (!sink.write(chunk.data(), chunk.size())) return false;
                                         *w += chunk.size();
                                         ++*sent;
                                         std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                         return true;
                                       });
                                   }, {tollgate::logger::silent(), {}}});
    // An LLM-style stream: one token per chunk, reported through the context as it goes.
    http.server.Get("/tokens", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>,
                                                 tollgate::per_token<0_cr, 2_cr>>{
                                   ledger, [](const httplib::Request&, httplib::Response& res, tollgate::metering_context& ctx) {
                                     auto n = std::make_shared<int>(0);
                                     res.set_chunked_content_provider("text/plain", [&ctx, n](std::size_t, httplib::DataSink& sink) {
                                       if (*n == 50) {
                                         sink.done();
                                         return true;
                                       }
                                       if (!sink.write("tok ", 4)) return false;
                                       ctx.report_usage({.completion_tokens = 1});
                                       ++*n;
                                       return true;
                                     });
                                   }, {tollgate::logger::silent(), {}}});
    // Sets a stream, then fails: the stream must never be sent after the refund.
    http.server.Get("/stream-then-throw", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<5_cr>,
                                                            tollgate::per_token<0_cr, 1'000'000_cr>>{
                                              ledger, [w = written](const httplib::Request&, httplib::Response& res, tollgate::metering_context& ctx) {
                                                res.set_chunked_content_provider("text/plain", [w, &ctx](std::size_t, httplib::DataSink& sink) {
                                                  ctx.report_usage({.completion_tokens = 1});  // would touch a freed context
                                                  *w += 1;
                                                  sink.write("x", 1);
                                                  sink.done();
                                                  return true;
                                                });
                                                throw std::runtime_error("failed after setting the stream");
                                              }, {tollgate::logger::silent(), {}}});
    http.start();
  }

  credits spent() { return 1000_cr - *ledger.balance("u"); }

  // Waits (bounded) until the stream's lock is settled.
  bool settled() {
    for (int i = 0; i < 500; ++i) {
      if (ledger.summary().locks.empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

// A raw client that reads `enough` bytes of the response, then hangs up hard (RST).
void read_then_hang_up(int port, const std::string& target, std::size_t enough) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-ID: u\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::size_t got = 0;
  char buffer[4096];
  while (got < enough) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    REQUIRE(n > 0);
    got += static_cast<std::size_t>(n);
  }
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

}  // namespace

TEST_CASE("streaming: a completed stream is settled after the last chunk for every byte") {
  streaming_fixture f;
  auto client = f.http.client();
  auto res = client.Get("/stream?chunks=20", {{"X-User-ID", "u"}});
  REQUIRE(res);
  CHECK(res->body.size() == 20 * chunk_size);
  REQUIRE(f.settled());
  CHECK(f.spent() == 20.1_cr);
}

TEST_CASE("streaming: a client that hangs up mid-stream is charged exactly what was delivered") {
  streaming_fixture f;
  read_then_hang_up(f.http.port(), "/stream?chunks=400", 8 * chunk_size);
  REQUIRE(f.settled());
  const std::size_t delivered = *f.written;
  CHECK(delivered >= 8 * chunk_size);
  CHECK(delivered < 400 * chunk_size);
  CHECK(f.spent() == 0.1_cr + (1_cr).scaled(static_cast<std::int64_t>(delivered), 1024));
}

TEST_CASE("streaming: an error inside the stream aborts it and charges what was delivered") {
  streaming_fixture f;
  auto client = f.http.client();
  auto res = client.Get("/stream?chunks=20&explode=3", {{"X-User-ID", "u"}});
  CHECK_FALSE((res && res->status == 200 && res->body.size() == 20 * chunk_size));
  REQUIRE(f.settled());
  CHECK(*f.written == 3 * chunk_size);
  CHECK(f.spent() == 3.1_cr);
  auto after = f.http.client().Get("/stream?chunks=1", {{"X-User-ID", "u"}});  // the server lives on
  REQUIRE(after);
  CHECK(after->status == 200);
}

TEST_CASE("streaming: tokens reported while streaming are charged per token") {
  streaming_fixture f;
  auto client = f.http.client();
  auto res = client.Get("/tokens", {{"X-User-ID", "u"}});
  REQUIRE(res);
  CHECK(res->body.size() == 200);
  REQUIRE(f.settled());
  CHECK(f.spent() == 0.0001_cr);  // 50 tokens × 2 credits per million
}

TEST_CASE("streaming: a handler that sets a stream and then throws is refunded and sends no stream") {
  streaming_fixture f;
  auto client = f.http.client();
  auto res = client.Get("/stream-then-throw", {{"X-User-ID", "u"}});
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body.empty());
  CHECK(*f.written == 0);  // the provider never ran
  REQUIRE(f.settled());
  CHECK(f.spent() == credits{});
}

TEST_CASE("streaming: stopping the server mid-stream settles the lock for what was delivered") {
  streaming_fixture f;
  std::thread reader([&] {
    auto client = f.http.client();
    (void)client.Get("/stream?chunks=2000", {{"X-User-ID", "u"}});  // cut short by the shutdown
  });
  for (int i = 0; i < 500 && *f.written < 4 * chunk_size; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  f.http.server.stop();
  reader.join();
  REQUIRE(f.settled());
  const std::size_t delivered = *f.written;
  CHECK(delivered < 2000 * chunk_size);
  CHECK(f.spent() == 0.1_cr + (1_cr).scaled(static_cast<std::int64_t>(delivered), 1024));
}
