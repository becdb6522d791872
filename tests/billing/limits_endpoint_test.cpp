// billing::limits_endpoint, framework-agnostic: resolvers, overrides, logging and edge cases of the contract.
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>

#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace {
using tollgate::basic_request;
using tollgate::billing::endpoint_options;
using tollgate::billing::limits_endpoint;

const std::string secret_text = "endpoint-unit-secret";

std::string valid_token() {
  const auto now = static_cast<long long>(std::time(nullptr));
  return tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, secret_text);
}

// A logger that keeps every line, to prove what is and is not written.
struct captured_log {
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
  [[nodiscard]] tollgate::logger logger() const {
    return tollgate::logger(tollgate::log_level::debug, [m = mutex, l = lines](tollgate::log_level, std::string_view line) {
      std::lock_guard lock(*m);
      l->emplace_back(line);
    });
  }
  [[nodiscard]] std::string all() const {
    std::lock_guard lock(*mutex);
    std::string out;
    for (const auto& l : *lines) out += l + "\n";
    return out;
  }
};

endpoint_options quiet(endpoint_options o) { return std::move(o).with_logger(tollgate::logger::silent()); }
}  // namespace

TEST_CASE("limits endpoint: 200 body has the contract's exact shape and key order") {
  const limits_endpoint<> endpoint{quiet(endpoint_options::auth_disabled())};
  basic_request r;
  r.with_header("tenant-id", "org-456").with_header("x-plan-type", "growth");
  const auto reply = endpoint.handle(r);
  CHECK(reply.status == 200);
  CHECK(reply.body == R"({"tenant_id":"org-456","limits":{"deployments":5,"self_hosted_workers":null,"plan_type":"growth"}})");
  CHECK(reply.content_type == "application/json");
  CHECK(reply.headers.empty());
}

TEST_CASE("limits endpoint: HEAD is answered like GET; other methods get 405 with Allow") {
  const limits_endpoint<> endpoint{quiet(endpoint_options::auth_disabled())};
  basic_request head;
  head.with_method("HEAD").with_header("tenant-id", "t");
  CHECK(endpoint.handle(head).status == 200);
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"}) {
    CAPTURE(method);
    basic_request r;
    r.with_method(method).with_header("tenant-id", "t");
    const auto reply = endpoint.handle(r);
    CHECK(reply.status == 405);
    CHECK(reply.body == R"({"detail":"Method Not Allowed"})");
    CHECK(reply.header("allow") == "GET, HEAD");
  }
}

TEST_CASE("limits endpoint: header values are echoed as the original's server decoded them (Latin-1)") {
  const limits_endpoint<> endpoint{quiet(endpoint_options::auth_disabled())};
  basic_request r;
  r.with_header("tenant-id", "org-\xe9\"\\");  // the byte 0xE9 is 'é' in Latin-1
  CHECK(endpoint.handle(r).body == "{\"tenant_id\":\"org-\xc3\xa9\\\"\\\\\",\"limits\":{\"deployments\":1,\"self_hosted_workers\":5,\"plan_type\":\"free\"}}");
  basic_request bad;
  bad.with_header("tenant-id", "t").with_header("x-plan-type", "gr\xf6wth");
  CHECK(endpoint.handle(bad).body ==
        "{\"detail\":[{\"type\":\"enum\",\"loc\":[\"header\",\"x-plan-type\"],\"msg\":\"Input should be 'free', 'growth' or "
        "'enterprise'\",\"input\":\"gr\xc3\xb6wth\",\"ctx\":{\"expected\":\"'free', 'growth' or 'enterprise'\"}}]}");
}

TEST_CASE("limits endpoint: tenant overrides show in the 200 body") {
  auto overrides = std::make_shared<tollgate::tenant_overrides<tollgate::default_plans>>();
  overrides->set<"deployments">("org-vip", 50);
  const limits_endpoint<> endpoint{quiet(endpoint_options::auth_disabled()), {}, overrides};
  basic_request vip;
  vip.with_header("tenant-id", "org-vip");
  CHECK(endpoint.handle(vip).body == R"({"tenant_id":"org-vip","limits":{"deployments":50,"self_hosted_workers":5,"plan_type":"free"}})");
  basic_request other;
  other.with_header("tenant-id", "org-other");
  CHECK(endpoint.handle(other).body == R"({"tenant_id":"org-other","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}

TEST_CASE("limits endpoint: a server-side resolver ignores x-plan-type and maps its answers to statuses") {
  tollgate::cached_plan_lookup lookup{[](std::string_view tenant) -> std::optional<std::string> {
    if (tenant == "org-growth") return "growth";
    if (tenant == "org-typo") return "platinum";
    if (tenant == "org-down") throw std::runtime_error("connection refused");
    return std::nullopt;
  }};
  captured_log log;
  const limits_endpoint<tollgate::default_plans, tollgate::cached_plan_lookup> endpoint{
      endpoint_options::auth_disabled().with_logger(log.logger()), lookup};
  auto ask = [&](std::optional<std::string> tenant, std::optional<std::string> plan_header = std::nullopt) {
    basic_request r;
    if (tenant) r.with_header("tenant-id", *tenant);
    if (plan_header) r.with_header("x-plan-type", *plan_header);
    return endpoint.handle(r);
  };
  // The caller cannot raise its own plan with the header.
  CHECK(ask("org-growth", "enterprise").body ==
        R"({"tenant_id":"org-growth","limits":{"deployments":5,"self_hosted_workers":null,"plan_type":"growth"}})");
  CHECK(ask("org-growth", "nonsense").status == 200);
  const auto unknown = ask("org-nobody");
  CHECK(unknown.status == 404);
  CHECK(unknown.body == R"({"detail":"Tenant not found"})");
  const auto typo = ask("org-typo");
  CHECK(typo.status == 500);
  CHECK(typo.body == R"({"detail":"Server configuration error: unknown plan"})");
  const auto down = ask("org-down");
  CHECK(down.status == 503);
  CHECK(down.body == R"({"detail":"Plan lookup failed"})");
  CHECK(log.all().find("connection refused") != std::string::npos);  // the reason goes to the log, not the client
  const auto missing = ask(std::nullopt);
  CHECK(missing.status == 422);
  CHECK(missing.body == R"({"detail":[{"type":"missing","loc":["header","tenant-id"],"msg":"Field required","input":null}]})");
}

TEST_CASE("limits endpoint: neither the secret nor a token reaches the log") {
  captured_log log;
  const limits_endpoint<> endpoint{endpoint_options::with_secret(tollgate::redacted{secret_text}).with_logger(log.logger())};
  const auto forged = tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}}, "not-the-secret");
  const auto good = valid_token();
  for (const auto& token : {forged, good, std::string("invalid-token")}) {
    basic_request r;
    r.with_header("Authorization", "Bearer " + token).with_header("tenant-id", "t");
    (void)endpoint.handle(r);
  }
  const auto text = log.all();
  CHECK(text.find("Signature verification failed") != std::string::npos);  // the refusal is logged ...
  CHECK(text.find(secret_text) == std::string::npos);                      // ... without the secret
  CHECK(text.find(forged) == std::string::npos);
  CHECK(text.find(good) == std::string::npos);
  CHECK(text.find(forged.substr(forged.rfind('.') + 1)) == std::string::npos);
}

TEST_CASE("limits endpoint: a missing secret warns at start and answers 500, never turning auth off") {
  captured_log log;
  const limits_endpoint<> endpoint{endpoint_options{}.with_logger(log.logger())};
  CHECK(endpoint.auth_enabled());
  CHECK(log.all().find("no JWT secret configured") != std::string::npos);
  basic_request r;
  r.with_header("Authorization", "Bearer " + valid_token()).with_header("tenant-id", "t");
  const auto reply = endpoint.handle(r);
  CHECK(reply.status == 500);
  CHECK(reply.body == R"({"detail":"Server configuration error: no secret configured"})");
  CHECK_FALSE(reply.header("WWW-Authenticate"));
  // Steps 1 and 2 come before the secret check.
  basic_request none;
  none.with_header("tenant-id", "t");
  CHECK(endpoint.handle(none).status == 401);
}

TEST_CASE("limits endpoint: leeway and clock come from the options") {
  tollgate::jwt::verify_options jwt;
  jwt.now = [] { return std::int64_t{2'000'000'000}; };
  jwt.leeway = std::chrono::seconds(30);
  const limits_endpoint<> endpoint{quiet(endpoint_options::with_secret(tollgate::redacted{secret_text}).with_jwt(jwt))};
  const auto token = tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"exp", 2'000'000'000 - 10}}, secret_text);
  basic_request r;
  r.with_header("Authorization", "Bearer " + token).with_header("tenant-id", "t");
  CHECK(endpoint.handle(r).status == 200);  // 10 s late, within 30 s of leeway
}

TEST_CASE("limits endpoint: a custom table writes its own limits in its own order") {
  using seats = tollgate::plan_table<tollgate::plan<"solo", tollgate::limit<"seats", 1>, tollgate::limit<"projects", 2>>,
                                     tollgate::plan<"team", tollgate::limit<"projects", tollgate::unlimited>, tollgate::limit<"seats", 9>>>;
  const limits_endpoint<seats> endpoint{quiet(endpoint_options::auth_disabled())};
  basic_request r;
  r.with_header("tenant-id", "x").with_header("x-plan-type", "team");
  CHECK(endpoint.handle(r).body == R"({"tenant_id":"x","limits":{"seats":9,"projects":null,"plan_type":"team"}})");
  basic_request bad;
  bad.with_header("tenant-id", "x").with_header("x-plan-type", "free");
  CHECK(endpoint.handle(bad).body ==
        R"({"detail":[{"type":"enum","loc":["header","x-plan-type"],"msg":"Input should be 'solo' or 'team'","input":"free","ctx":{"expected":"'solo' or 'team'"}}]})");
}

TEST_CASE("limits endpoint: an empty tenant-id is accepted and echoed; an empty x-plan-type is a 422") {
  const limits_endpoint<> endpoint{quiet(endpoint_options::auth_disabled())};
  basic_request empty_tenant;
  empty_tenant.with_header("tenant-id", "");
  const auto ok = endpoint.handle(empty_tenant);
  CHECK(ok.status == 200);
  CHECK(ok.body == R"({"tenant_id":"","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
  basic_request empty_plan;
  empty_plan.with_header("tenant-id", "t").with_header("x-plan-type", "");
  const auto bad = endpoint.handle(empty_plan);
  CHECK(bad.status == 422);
  CHECK(bad.body ==
        R"({"detail":[{"type":"enum","loc":["header","x-plan-type"],"msg":"Input should be 'free', 'growth' or 'enterprise'","input":"","ctx":{"expected":"'free', 'growth' or 'enterprise'"}}]})");
  basic_request percent;
  percent.with_header("tenant-id", "org%41");
  CHECK(endpoint.handle(percent).body == R"({"tenant_id":"org%41","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}
