// The built example binary: launched for real, port read from its first stdout line, queried, stopped.
#include <tollgate/jwt/sign.hpp>
#include <tollgate/jwt/verifier.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <fmt/format.h>
#include <httplib.h>

#include "support/child_process.hpp"

#ifndef TOLLGATE_BILLING_EXAMPLE_BINARY
#error "TOLLGATE_BILLING_EXAMPLE_BINARY must name the built tollgate_billing_limits executable"
#endif

namespace {

// The example as a child process (tests/support/child_process.hpp), from a clean environment so
// a BILLING_JWT_SECRET in the runner's environment cannot change the outcome; stderr kept in a file.
class example_process {
 public:
  example_process(std::vector<std::string> args, std::vector<std::string> env)
      : stderr_path_(fmt::format("/tmp/tollgate_billing_example_{}", ::getpid()) + fmt::format("_{}", ++count_) + ".log"),
        process_(with_binary(std::move(args)), std::move(env), stderr_path_, tollgate::testing::child_process::environment::only_given) {}
  example_process(const example_process&) = delete;
  example_process& operator=(const example_process&) = delete;
  ~example_process() { std::remove(stderr_path_.c_str()); }

  /// The first stdout line, waiting at most 10 s ("" if none came).
  [[nodiscard]] std::string first_line() {
    try {
      return process_.read_line();
    } catch (const std::exception&) {
      return {};
    }
  }
  /// Sends SIGTERM and returns the exit code (-1 when it did not exit normally).
  int stop() {
    const int status = process_.stop(SIGTERM);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  /// Waits for the process to end by itself and returns its exit code (-1 when killed by a signal).
  int wait_exit() { return process_.wait_exit(); }
  [[nodiscard]] std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), TOLLGATE_BILLING_EXAMPLE_BINARY);
    return args;
  }
  static inline int count_ = 0;
  std::string stderr_path_;
  tollgate::testing::child_process process_;
};

int port_of(example_process& p) {
  const auto line = p.first_line();
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_match(line, m, std::regex(R"(listening on 127\.0\.0\.1:([0-9]+))")), "first line: " << line);
  const int port = std::stoi(m[1].str());
  REQUIRE(port > 0);
  return port;
}

std::string token(const std::string& secret) {
  const auto now = static_cast<long long>(std::time(nullptr));
  return tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, secret);
}

const std::string secret = "example-binary-secret-1234";
}  // namespace

TEST_CASE("billing example: --secret, --port 0, /health and the endpoint, clean stop") {
  example_process p({"--port", "0", "--secret", secret}, {});
  const int port = port_of(p);
  httplib::Client client("127.0.0.1", port);
  const auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == R"({"status":"ok"})");
  const auto ok = client.Get("/billing/limits", {{"Authorization", "Bearer " + token(secret)}, {"tenant-id", "org-456"}, {"x-plan-type", "growth"}});
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == R"({"tenant_id":"org-456","limits":{"deployments":5,"self_hosted_workers":null,"plan_type":"growth"}})");
  const auto refused = client.Get("/billing/limits", {{"tenant-id", "org-456"}});
  REQUIRE(refused);
  CHECK(refused->status == 401);
  CHECK(refused->get_header_value("WWW-Authenticate") == "Bearer");
  const auto post = client.Post("/billing/limits", "", "application/json");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(p.stop() == 0);
  CHECK(p.stderr_text().find(secret) == std::string::npos);  // the secret is never logged
}

TEST_CASE("billing example: the secret can come from BILLING_JWT_SECRET") {
  example_process p({"--port", "0"}, {"BILLING_JWT_SECRET=" + secret});
  httplib::Client client("127.0.0.1", port_of(p));
  const auto ok = client.Get("/billing/limits", {{"Authorization", "Bearer " + token(secret)}, {"tenant-id", "org-1"}});
  REQUIRE(ok);
  CHECK(ok->status == 200);
  const auto wrong = client.Get("/billing/limits", {{"Authorization", "Bearer " + token("other")}, {"tenant-id", "org-1"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(wrong->body == R"({"detail":"Invalid token. Error: Signature verification failed"})");
  CHECK(p.stderr_text().find(secret) == std::string::npos);
}

TEST_CASE("billing example: no secret and no --disable-auth still runs, answers 500 and warns") {
  example_process p({"--port", "0"}, {});
  httplib::Client client("127.0.0.1", port_of(p));
  const auto res = client.Get("/billing/limits", {{"Authorization", "Bearer " + token(secret)}, {"tenant-id", "org-1"}});
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body == R"({"detail":"Server configuration error: no secret configured"})");
  const auto no_auth = client.Get("/billing/limits", {{"tenant-id", "org-1"}});
  REQUIRE(no_auth);
  CHECK(no_auth->status == 401);  // never silently open
  CHECK(p.stop() == 0);
  CHECK(p.stderr_text().find("no JWT secret configured") != std::string::npos);
}

TEST_CASE("billing example: --disable-auth serves without a token") {
  example_process p({"--port", "0", "--disable-auth"}, {});
  httplib::Client client("127.0.0.1", port_of(p));
  const auto res = client.Get("/billing/limits", {{"tenant-id", "org-123"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-123","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}

TEST_CASE("billing example: --print-token prints a token the contract accepts") {
  example_process p({"--secret", secret, "--print-token"}, {});
  const auto printed = p.first_line();
  CHECK(p.wait_exit() == 0);
  const tollgate::jwt::verifier verifier{tollgate::redacted{secret}};
  const auto result = verifier.verify(printed);
  CHECK_MESSAGE(result.ok(), result.error);
  CHECK(result.claims["ver"] == "1");
  CHECK(result.claims["aud"] == "worker");
}

TEST_CASE("billing example: bad arguments exit with status 2") {
  example_process p({"--port", "not-a-number"}, {});
  CHECK(p.first_line().empty());
  CHECK(p.wait_exit() == 2);
}

TEST_CASE("billing example: POST /deployments until refused, GET /billing/usage, DELETE frees a slot") {
  example_process p({"--port", "0", "--secret", secret}, {});
  httplib::Client client("127.0.0.1", port_of(p));
  const httplib::Headers auth{{"Authorization", "Bearer " + token(secret)}, {"tenant-id", "org-demo"}};
  // The demo endpoints take the same token as /billing/*.
  const auto anonymous = client.Post("/deployments", {{"tenant-id", "org-demo"}}, "", "application/json");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  const auto first = client.Post("/deployments", auth, "", "application/json");
  REQUIRE(first);
  CHECK(first->status == 201);
  CHECK(first->body == R"({"id":"dep-1"})");
  const auto second = client.Post("/deployments", auth, "", "application/json");
  REQUIRE(second);
  CHECK(second->status == 403);
  CHECK(second->body == R"({"detail":"Plan limit reached: plan 'free' allows 1 deployments (1 in use); delete one or upgrade the plan"})");
  const auto usage = client.Get("/billing/usage", auth);
  REQUIRE(usage);
  CHECK(usage->status == 200);
  CHECK(usage->body ==
        R"({"tenant_id":"org-demo","usage":{"deployments":{"used":1,"limit":1,"remaining":0},"self_hosted_workers":{"used":0,"limit":5,"remaining":5}},"plan_type":"free"})");
  const auto no_token = client.Get("/billing/usage", {{"tenant-id", "org-demo"}});
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(no_token->body == R"({"detail":"Missing authorization header"})");
  const auto removed = client.Delete("/deployments/dep-1", auth);
  REQUIRE(removed);
  CHECK(removed->status == 204);
  const auto gone = client.Delete("/deployments/dep-1", auth);
  REQUIRE(gone);
  CHECK(gone->status == 404);
  const auto again = client.Post("/deployments", auth, "", "application/json");
  REQUIRE(again);
  CHECK(again->status == 201);
  // growth allows 5: the tenant's plan (here from x-plan-type) decides, not a constant.
  httplib::Headers growth = auth;
  growth.emplace("x-plan-type", "growth");
  for (int i = 0; i < 4; ++i) CHECK(client.Post("/deployments", growth, "", "application/json")->status == 201);
  CHECK(client.Post("/deployments", growth, "", "application/json")->status == 403);
  CHECK(p.stop() == 0);
  CHECK(p.stderr_text().find(secret) == std::string::npos);
}
