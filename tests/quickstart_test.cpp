// Tests of the quickstart example as a real program: each endpoint's charge, to the micro-credit.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/json/credits.hpp>

#include "support/child_process.hpp"

using namespace tollgate::literals;
using tollgate::credits;

namespace {
struct quickstart {
  std::string log_path = fmt::format("/tmp/tollgate-quickstart-test-{}", ::getpid()) + ".log";
  tollgate::testing::child_process process{{TOLLGATE_QUICKSTART_BINARY, "--port", "0"}, {}, log_path};
  int port = process.read_port();
  httplib::Client client{"127.0.0.1", port};

  credits balance(const std::string& user) {
    auto res = client.Get(("/api/test/balance?user_id=" + user).c_str());
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return nlohmann::json::parse(res->body)["balance"].get<credits>();
  }
  httplib::Headers as(const std::string& user) const { return {{"X-User-ID", user}}; }
  std::string log() const {
    std::ifstream in(log_path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  ~quickstart() { std::remove(log_path.c_str()); }
};
}  // namespace

TEST_CASE("quickstart: the seeded users start with 100 credits; others are unknown") {
  quickstart q;
  CHECK(q.balance("test-user-1") == 100_cr);
  CHECK(q.balance("test-user-3") == 100_cr);
  auto res = q.client.Get("/api/test/balance?user_id=ghost");
  REQUIRE(res);
  CHECK(res->status == 404);
  auto simple = q.client.Get("/api/simple", q.as("ghost"));
  REQUIRE(simple);
  CHECK(simple->status == 404);
  CHECK(nlohmann::json::parse(simple->body).contains("detail"));
  auto anonymous = q.client.Get("/api/simple");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}

TEST_CASE("quickstart: /api/simple charges exactly 1.0") {
  quickstart q;
  auto res = q.client.Get("/api/simple", q.as("test-user-1"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(q.balance("test-user-1") == 99_cr);
}

TEST_CASE("quickstart: /api/data charges 0.5 + 0.1 per KB of the body sent") {
  quickstart q;
  auto res = q.client.Post("/api/data", q.as("test-user-1"), R"({"size": 1000})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  const auto bytes = static_cast<std::int64_t>(res->body.size());
  CHECK(bytes == 1011);
  CHECK(q.balance("test-user-1") == 100_cr - (0.5_cr + (0.1_cr).scaled(bytes, 1024)));
  auto bad = q.client.Post("/api/data", q.as("test-user-1"), "{}", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);  // waived: a request we cannot serve costs nothing
  CHECK(q.balance("test-user-1") == 100_cr - (0.5_cr + (0.1_cr).scaled(bytes, 1024)));
}

TEST_CASE("quickstart: /api/process charges 1.0 + 2.0 per second of processing") {
  quickstart q;
  auto res = q.client.Post("/api/process?duration=0.25", q.as("test-user-2"), "", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 200);
  const credits charged = 100_cr - q.balance("test-user-2");
  CHECK(charged >= 1.5_cr);  // at least 1.0 + 2 × 0.25
  CHECK(charged < 2.5_cr);   // generous bound for a loaded machine; lock was 10
}

TEST_CASE("quickstart: /api/advanced adds a 0.5 penalty when the answer is an error") {
  quickstart q;
  auto ok = q.client.Post("/api/advanced", q.as("test-user-1"), "", "text/plain");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  const credits first = 100_cr - q.balance("test-user-1");
  CHECK(first >= 1_cr);
  CHECK(first < 1.2_cr);
  auto failed = q.client.Post("/api/advanced?fail=1", q.as("test-user-1"), "", "text/plain");
  REQUIRE(failed);
  CHECK(failed->status == 400);
  const credits second = 100_cr - q.balance("test-user-1") - first;
  CHECK(second >= 1.5_cr);
  CHECK(second < 1.7_cr);
}

TEST_CASE("quickstart: an empty balance answers 402 and the handler is not charged") {
  quickstart q;
  int served = 0;
  for (int i = 0; i < 200; ++i) {
    auto res = q.client.Get("/api/simple", q.as("test-user-3"));
    REQUIRE(res);
    if (res->status == 402) {
      CHECK(nlohmann::json::parse(res->body)["detail"].get<std::string>().rfind("Insufficient balance", 0) == 0);
      break;
    }
    REQUIRE(res->status == 200);
    ++served;
  }
  CHECK(served == 100);
  CHECK(q.balance("test-user-3") == credits{});
  // The server logged every lock and settlement, and never the caller's id in clear.
  const std::string log = q.log();
  CHECK(log.find("settled: charged 1 of 1 held") != std::string::npos);
  CHECK(log.find("lock refused") != std::string::npos);
  CHECK(log.find("test-user-3") == std::string::npos);
}

TEST_CASE("quickstart: /api/stream streams tokens and charges per token after the last one") {
  quickstart q;
  auto res = q.client.Get("/api/stream?tokens=20", q.as("test-user-2"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.rfind("token0 token1 ", 0) == 0);
  // 12 prompt tokens × 0.15/M = 1.8 µcr → 2; 20 completion tokens × 0.45/M = 9 µcr.
  credits charged = 0.5_cr;  // while the stream's lock is open, the 0.5 estimate is held
  for (int i = 0; i < 200 && charged == 0.5_cr; ++i) {
    charged = 100_cr - q.balance("test-user-2");
    if (charged == 0.5_cr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(charged == credits::from_micros(11));
}
