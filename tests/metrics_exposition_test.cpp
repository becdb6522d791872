// The examples' /metrics checked by real tools: promtool accepts each scrape, and a real Prometheus
// server scrapes the quickstart and reports, through its HTTP API, the requests this test sent.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"

namespace {
namespace fs = std::filesystem;
using tollgate::testing::child_process;

// A scratch directory removed at the end.
struct temp_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("tollgate-metrics-{}-{}", ::getpid(), std::rand());
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The body of GET /metrics, after checking its status and Content-Type.
std::string scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return res->body;
}

// `promtool check metrics` on a scrape: true when it accepts it (lint warnings included).
void check_with_promtool(const std::string& scrape_text, const std::string& what) {
  temp_dir dir;
  const fs::path input = dir.path / "scrape.txt";
  const fs::path output = dir.path / "promtool.txt";
  std::ofstream(input) << scrape_text;
  const std::string command = fmt::format("promtool check metrics < '{}' > '{}' 2>&1", input.string(), output.string());
  const int status = std::system(command.c_str());
  INFO(what << ": promtool said:\n" << slurp(output) << "\nscrape:\n" << scrape_text);
  CHECK(status == 0);
  CHECK(slurp(output).empty());  // no lint problem either
}

// The prometheus binary, from PATH (child_process execs a path, not a name). install-deps installs it.
std::string prometheus_binary() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "prometheus";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  FAIL("the prometheus binary is not on PATH: scripts/install-deps.sh installs Debian's `prometheus` package");
  return {};
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}
}  // namespace

TEST_CASE("metrics exposition: promtool accepts the quickstart's /metrics, before and after traffic") {
  child_process quickstart({TOLLGATE_QUICKSTART_BINARY, "--port", "0"});
  const int port = quickstart.read_port();
  check_with_promtool(scrape(port), "quickstart, no traffic");
  httplib::Client client("127.0.0.1", port);
  for (const char* user : {"test-user-1", "ghost", ""}) {
    httplib::Headers headers;
    if (*user) headers.emplace("X-User-ID", user);
    REQUIRE(client.Get("/api/simple", headers));
    REQUIRE(client.Get("/api/stream?tokens=3", headers));
  }
  const std::string text = scrape(port);
  CHECK(text.find("tollgate_requests_total{route=\"/api/simple\",outcome=\"served\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_requests_total{route=\"/api/simple\",outcome=\"404\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_requests_total{route=\"/api/simple\",outcome=\"401\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_credits_charged_micros_total{route=\"/api/simple\"} 1000000\n") != std::string::npos);
  CHECK(text.find("tollgate_ledger_call_duration_seconds_bucket{operation=\"lock\",ledger=\"memory\",le=\"+Inf\"}") != std::string::npos);
  CHECK(text.find("test-user-1") == std::string::npos);  // never a user id
  check_with_promtool(text, "quickstart after traffic");
}

#ifdef TOLLGATE_QUICKSTART_BEAST_BINARY
TEST_CASE("metrics exposition: promtool accepts the Beast quickstart's /metrics") {
  child_process quickstart({TOLLGATE_QUICKSTART_BEAST_BINARY, "--port", "0"});
  const int port = quickstart.read_port();
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Get("/api/simple", {{"X-User-ID", "test-user-1"}}));
  const std::string text = scrape(port);
  CHECK(text.find("tollgate_requests_total{route=\"/api/simple\",outcome=\"served\"} 1\n") != std::string::npos);
  check_with_promtool(text, "Beast quickstart");
}
#endif

#ifdef TOLLGATE_CREDIT_SERVER_BINARY
TEST_CASE("metrics exposition: promtool accepts the credit server's /metrics") {
  child_process server({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", "metrics-test-token"});
  const int port = server.read_port();
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Get("/v1/health"));
  REQUIRE(client.Get("/v1/users/some-user-id"));  // counted under its pattern, never by id
  const std::string text = scrape(port);
  CHECK(text.find("tollgate_credit_service_requests_total{endpoint=\"/v1/health\",code=\"200\"} 1\n") != std::string::npos);
  CHECK(text.find("tollgate_credit_service_requests_total{endpoint=\"/v1/users/{id}\",code=\"401\"} 1\n") != std::string::npos);
  CHECK(text.find("some-user-id") == std::string::npos);
  check_with_promtool(text, "credit server");
}
#endif

#ifdef TOLLGATE_BILLING_EXAMPLE_BINARY
TEST_CASE("metrics exposition: promtool accepts the billing example's /metrics") {
  child_process server({TOLLGATE_BILLING_EXAMPLE_BINARY, "--port", "0", "--secret", "metrics-test-secret"});
  const int port = server.read_port();
  httplib::Client client("127.0.0.1", port);
  REQUIRE(client.Get("/billing/limits", {{"Authorization", "Bearer not.a.token"}, {"tenant-id", "t1"}}));
  REQUIRE(client.Get("/billing/limits", {{"tenant-id", "t1"}}));
  const std::string text = scrape(port);
  CHECK(text.find("tollgate_billing_limits_requests_total{status=\"401\"} 2\n") != std::string::npos);
  CHECK(text.find("tollgate_jwt_refusals_total{reason=\"malformed\"} 1\n") != std::string::npos);
  CHECK(text.find("t1") == std::string::npos);  // never a tenant id
  check_with_promtool(text, "billing example");
}
#endif

TEST_CASE("metrics exposition: a real Prometheus scrapes the quickstart and counts the requests sent") {
  child_process quickstart({TOLLGATE_QUICKSTART_BINARY, "--port", "0"});
  const int app_port = quickstart.read_port();
  httplib::Client app("127.0.0.1", app_port);
  constexpr int served = 7;
  constexpr int anonymous = 3;
  for (int i = 0; i < served; ++i) REQUIRE(app.Get("/api/simple", {{"X-User-ID", "test-user-2"}})->status == 200);
  for (int i = 0; i < anonymous; ++i) REQUIRE(app.Get("/api/simple")->status == 401);

  temp_dir dir;
  const int prometheus_port = free_port();
  std::ofstream(dir.path / "prometheus.yml") << fmt::format(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: quickstart\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
      app_port);
  const fs::path log = dir.path / "prometheus.log";
  child_process prometheus({prometheus_binary(), "--config.file=" + (dir.path / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (dir.path / "data").string(),
                            fmt::format("--web.listen-address=127.0.0.1:{}", prometheus_port), "--log.level=warn"},
                           {}, log.string());

  httplib::Client api("127.0.0.1", prometheus_port);
  auto value_of = [&](const std::string& query) -> std::optional<std::string> {
    auto res = api.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
    if (!res || res->status != 200) return std::nullopt;
    const auto body = nlohmann::json::parse(res->body, nullptr, false);
    if (body.is_discarded() || body["status"] != "success" || body["data"]["result"].empty()) return std::nullopt;
    return body["data"]["result"][0]["value"][1].get<std::string>();
  };
  const std::string served_query = R"(tollgate_requests_total{job="quickstart",route="/api/simple",outcome="served"})";
  std::optional<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    seen = value_of(served_query);
    if (seen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO("prometheus log:\n" << slurp(log));
  REQUIRE(seen);
  CHECK(*seen == std::to_string(served));
  CHECK(value_of(R"(tollgate_requests_total{job="quickstart",route="/api/simple",outcome="401"})") == std::to_string(anonymous));
  CHECK(value_of(R"(tollgate_credits_charged_micros_total{job="quickstart",route="/api/simple"})") == std::to_string(served * 1'000'000));
  CHECK(value_of(R"(up{job="quickstart"})") == "1");
}
