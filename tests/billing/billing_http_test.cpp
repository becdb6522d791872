// GET /billing/limits over real HTTP on loopback: every row of the contract and the original's ten cases.
// Built twice: on cpp-httplib, and with TOLLGATE_BILLING_ON_BEAST on tollgate's Beast server.
#if TOLLGATE_BILLING_ON_BEAST
#include <boost/asio/io_context.hpp>
#include <tollgate/billing/beast.hpp>
#else
#include <tollgate/billing/httplib.hpp>
#endif
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/jwt/sign.hpp>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace {
using nlohmann::json;
using tollgate::billing::endpoint_options;
using tollgate::billing::limits_endpoint;

const std::string secret = "loopback-test-secret";

#if TOLLGATE_BILLING_ON_BEAST
// tollgate's Beast server with the endpoint mounted, on 127.0.0.1 on a free port, one loop thread.
class loopback_server {
 public:
  explicit loopback_server(endpoint_options options) {
    tollgate::beast::router routes;
    tollgate::billing::mount(routes, std::make_shared<const limits_endpoint<>>(std::move(options).with_logger(tollgate::logger::silent())));
    server_.emplace(io_, std::move(routes));
    port_ = server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;
  ~loopback_server() {
    io_.stop();
    thread_.join();
  }

  [[nodiscard]] httplib::Result get(const httplib::Headers& headers, const std::string& path = "/billing/limits") const {
    httplib::Client client("127.0.0.1", port_);
    return client.Get(path, headers);
  }
  [[nodiscard]] httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }
  [[nodiscard]] int port() const { return port_; }

 private:
  boost::asio::io_context io_{1};
  std::optional<tollgate::beast::server> server_;
  std::thread thread_;
  int port_ = 0;
};
#else
// An httplib::Server with the endpoint mounted, listening on 127.0.0.1 on a free port in a thread.
class loopback_server {
 public:
  explicit loopback_server(endpoint_options options) {
    tollgate::billing::mount(server_, std::make_shared<const limits_endpoint<>>(std::move(options).with_logger(tollgate::logger::silent())));
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(server_.is_running());
  }
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;
  ~loopback_server() {
    server_.stop();
    thread_.join();
  }

  [[nodiscard]] httplib::Result get(const httplib::Headers& headers, const std::string& path = "/billing/limits") const {
    httplib::Client client("127.0.0.1", port_);
    return client.Get(path, headers);
  }
  [[nodiscard]] httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};
#endif

loopback_server& with_auth() {
  static loopback_server server{endpoint_options::with_secret(tollgate::redacted{secret})};
  return server;
}
loopback_server& without_auth() {
  static loopback_server server{endpoint_options::auth_disabled()};
  return server;
}

long long now() { return static_cast<long long>(std::time(nullptr)); }
json caller_claims() { return {{"ver", "1"}, {"aud", "worker"}, {"iat", now()}, {"exp", now() + 3600}}; }
std::string token_for(const json& claims) { return tollgate::jwt::sign_hs256(claims, secret); }
std::string bearer(const json& claims) { return "Bearer " + token_for(claims); }

const std::string missing_tenant_body =
    R"({"detail":[{"type":"missing","loc":["header","tenant-id"],"msg":"Field required","input":null}]})";
std::string enum_error(const std::string& input) {
  return R"({"type":"enum","loc":["header","x-plan-type"],"msg":"Input should be 'free', 'growth' or 'enterprise'","input":")" +
         input + R"(","ctx":{"expected":"'free', 'growth' or 'enterprise'"}})";
}

// A 401 exactly as the contract has it: status, body, WWW-Authenticate, JSON content type.
void check_401(const httplib::Result& res, const std::string& detail) {
  REQUIRE(res);
  CHECK(res->status == 401);
  CHECK(res->body == json{{"detail", detail}}.dump());
  CHECK(res->get_header_value("WWW-Authenticate") == "Bearer");
  CHECK(res->get_header_value("Content-Type") == "application/json");
}
void check_invalid_token(const json& claims, const std::string& reason) {
  check_401(with_auth().get({{"Authorization", bearer(claims)}, {"tenant-id", "org-1"}}), "Invalid token. Error: " + reason);
}
}  // namespace

// ---- The original's test cases 4–10 (1–3 are the plan table, in plans_test.cpp) ----

TEST_CASE("billing http: no auth, free plan headers → 200 free limits (original case 4)") {
  const auto res = without_auth().get({{"tenant-id", "org-123"}, {"x-plan-type", "free"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-123","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
  CHECK(res->get_header_value("Content-Type") == "application/json");
}

TEST_CASE("billing http: no auth, growth plan headers → 200 growth limits (original case 5)") {
  const auto res = without_auth().get({{"tenant-id", "org-456"}, {"x-plan-type", "growth"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-456","limits":{"deployments":5,"self_hosted_workers":null,"plan_type":"growth"}})");
}

TEST_CASE("billing http: no auth, enterprise plan headers → 200 enterprise limits (original case 6)") {
  const auto res = without_auth().get({{"tenant-id", "org-789"}, {"x-plan-type", "enterprise"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-789","limits":{"deployments":null,"self_hosted_workers":null,"plan_type":"enterprise"}})");
}

TEST_CASE("billing http: no auth, only tenant-id → 200 free limits (original case 7)") {
  const auto res = without_auth().get({{"tenant-id", "org-123"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-123","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}

TEST_CASE("billing http: no auth, only x-plan-type → 422 missing tenant-id (original case 8)") {
  const auto res = without_auth().get({{"x-plan-type", "free"}});
  REQUIRE(res);
  CHECK(res->status == 422);
  CHECK(res->body == missing_tenant_body);
  CHECK(res->get_header_value("Content-Type") == "application/json");
}

TEST_CASE("billing http: auth on, no Authorization → 401 mentioning authorization (original case 9)") {
  const auto res = with_auth().get({{"tenant-id", "org-123"}, {"x-plan-type", "free"}});
  check_401(res, "Missing authorization header");
  CHECK(res->body.find("authorization") != std::string::npos);
}

TEST_CASE("billing http: auth on, Bearer invalid-token → 401 (original case 10)") {
  check_401(with_auth().get({{"Authorization", "Bearer invalid-token"}, {"tenant-id", "org-123"}}),
            "Invalid token. Error: Not enough segments");
}

// ---- The contract, row by row ----

TEST_CASE("billing http: a valid token → 200, as the engine calls it") {
  const auto res = with_auth().get({{"Authorization", bearer(caller_claims())}, {"tenant-id", "org-456"}, {"x-plan-type", "growth"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-456","limits":{"deployments":5,"self_hosted_workers":null,"plan_type":"growth"}})");
  CHECK_FALSE(res->has_header("WWW-Authenticate"));
}

TEST_CASE("billing http: header names are case-insensitive; tenant_id does not count") {
  const auto res = with_auth().get({{"AUTHORIZATION", bearer(caller_claims())}, {"Tenant-ID", "org-1"}, {"X-Plan-Type", "enterprise"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == R"({"tenant_id":"org-1","limits":{"deployments":null,"self_hosted_workers":null,"plan_type":"enterprise"}})");
  const auto underscore = without_auth().get({{"tenant_id", "org-1"}});
  REQUIRE(underscore);
  CHECK(underscore->status == 422);
  CHECK(underscore->body == missing_tenant_body);
}

TEST_CASE("billing http: unknown plans → 422 enum error (pro, FREE)") {
  // The empty value is covered on the core (limits_endpoint_test.cpp): cpp-httplib 0.11.4 drops it, see below.
  for (const std::string& plan : std::vector<std::string>{"pro", "FREE", "Growth"}) {
    CAPTURE(plan);
    const auto res = without_auth().get({{"tenant-id", "org-1"}, {"x-plan-type", plan}});
    REQUIRE(res);
    CHECK(res->status == 422);
    CHECK(res->body == R"({"detail":[)" + enum_error(plan) + "]}");
  }
}

TEST_CASE("billing http: several problems → several entries in detail") {
  const auto res = without_auth().get({{"x-plan-type", "pro"}});
  REQUIRE(res);
  CHECK(res->status == 422);
  CHECK(res->body ==
        R"({"detail":[{"type":"missing","loc":["header","tenant-id"],"msg":"Field required","input":null},)" + enum_error("pro") + "]}");
}

TEST_CASE("billing http: authentication comes before header validation (401, not 422)") {
  check_401(with_auth().get({}), "Missing authorization header");
  check_401(with_auth().get({{"x-plan-type", "pro"}}), "Missing authorization header");
  check_401(with_auth().get({{"Authorization", "Bearer invalid-token"}, {"x-plan-type", "pro"}}),
            "Invalid token. Error: Not enough segments");
  // With a valid token the 422 appears.
  const auto res = with_auth().get({{"Authorization", bearer(caller_claims())}, {"x-plan-type", "pro"}});
  REQUIRE(res);
  CHECK(res->status == 422);
}

TEST_CASE("billing http: Authorization absent or empty → Missing authorization header") {
  check_401(with_auth().get({{"tenant-id", "org-1"}}), "Missing authorization header");
  check_401(with_auth().get({{"Authorization", ""}, {"tenant-id", "org-1"}}), "Missing authorization header");
}

TEST_CASE("billing http: not two parts, or not bearer → Invalid authorization header format") {
  const std::string message = "Invalid authorization header format. Expected 'Bearer <token>'";
  const auto token = token_for(caller_claims());
  for (const std::string& value : std::vector<std::string>{token, "Bearer", "Basic " + token, "Bearer " + token + " extra", "Token " + token}) {
    CAPTURE(value);
    check_401(with_auth().get({{"Authorization", value}, {"tenant-id", "org-1"}}), message);
  }
  // The scheme is case-insensitive and any whitespace separates the parts.
  for (const std::string& value : std::vector<std::string>{"bearer " + token, "BEARER " + token, "Bearer \t " + token}) {
    CAPTURE(value);
    const auto res = with_auth().get({{"Authorization", value}, {"tenant-id", "org-1"}});
    REQUIRE(res);
    CHECK(res->status == 200);
  }
}

TEST_CASE("billing http: no secret configured → 500 without WWW-Authenticate") {
  loopback_server no_secret{endpoint_options::with_secret(tollgate::redacted{})};
  const auto res = no_secret.get({{"Authorization", bearer(caller_claims())}, {"tenant-id", "org-1"}});
  REQUIRE(res);
  CHECK(res->status == 500);
  CHECK(res->body == R"({"detail":"Server configuration error: no secret configured"})");
  CHECK_FALSE(res->has_header("WWW-Authenticate"));
  // Format errors still come first.
  check_401(no_secret.get({{"tenant-id", "org-1"}}), "Missing authorization header");
  check_401(no_secret.get({{"Authorization", "Basic x"}, {"tenant-id", "org-1"}}),
            "Invalid authorization header format. Expected 'Bearer <token>'");
}

TEST_CASE("billing http: token table — every reason") {
  // not three dot-separated segments
  check_401(with_auth().get({{"Authorization", "Bearer a.b"}, {"tenant-id", "t"}}), "Invalid token. Error: Not enough segments");
  // signature does not match
  check_401(with_auth().get({{"Authorization", "Bearer " + tollgate::jwt::sign_hs256(caller_claims(), "wrong")}, {"tenant-id", "t"}}),
            "Invalid token. Error: Signature verification failed");
  // alg other than HS256
  for (const char* alg : {"HS512", "none", "RS256"}) {
    CAPTURE(alg);
    const auto forged = tollgate::jwt::sign_with_header({{"alg", alg}, {"typ", "JWT"}}, caller_claims(), tollgate::redacted{secret});
    check_401(with_auth().get({{"Authorization", "Bearer " + forged}, {"tenant-id", "t"}}),
              "Invalid token. Error: The specified alg value is not allowed");
  }
  auto claims = caller_claims();
  claims["exp"] = now() - 1;
  check_invalid_token(claims, "Signature has expired");
  claims = caller_claims();
  claims["nbf"] = now() + 600;
  check_invalid_token(claims, "The token is not yet valid (nbf)");
  claims = caller_claims();
  claims["iat"] = now() + 600;
  check_invalid_token(claims, "The token is not yet valid (iat)");
  claims = caller_claims();
  claims.erase("aud");
  check_invalid_token(claims, "Token is missing the \"aud\" claim");
  claims["aud"] = "engine";
  check_invalid_token(claims, "Audience doesn't match");
  claims["aud"] = json::array({"engine", "admin"});
  check_invalid_token(claims, "Audience doesn't match");
  claims = caller_claims();
  claims.erase("ver");
  check_invalid_token(claims, "Unsupported token version: None");
  claims["ver"] = "2";
  check_invalid_token(claims, "Unsupported token version: 2");
  claims["ver"] = 1;
  check_invalid_token(claims, "Unsupported token version: 1");
  claims = caller_claims();
  claims["exp"] = "tomorrow";
  check_invalid_token(claims, "Expiration Time claim (exp) must be an integer.");
  claims = caller_claims();
  claims["iat"] = "today";
  check_invalid_token(claims, "Issued At claim (iat) must be an integer.");
}

TEST_CASE("billing http: aud as a list containing worker, and a token with only aud and ver, are valid") {
  auto claims = caller_claims();
  claims["aud"] = json::array({"engine", "worker"});
  auto res = with_auth().get({{"Authorization", bearer(claims)}, {"tenant-id", "t"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  res = with_auth().get({{"Authorization", bearer({{"aud", "worker"}, {"ver", "1"}})}, {"tenant-id", "t"}});
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("billing http: with auth disabled any Authorization header is ignored") {
  for (const std::string& value : std::vector<std::string>{"Bearer invalid-token", "Basic abc", ""}) {
    CAPTURE(value);
    const auto res = without_auth().get({{"Authorization", value}, {"tenant-id", "org-1"}});
    REQUIRE(res);
    CHECK(res->status == 200);
  }
}

TEST_CASE("billing http: other methods → 405 Method Not Allowed, before authentication") {
  auto client = with_auth().client();
  const httplib::Headers headers{{"tenant-id", "org-1"}};
  std::vector<httplib::Result> results;
  results.push_back(client.Post("/billing/limits", headers, "", "application/json"));
  results.push_back(client.Put("/billing/limits", headers, "", "application/json"));
  results.push_back(client.Patch("/billing/limits", headers, "", "application/json"));
  results.push_back(client.Delete("/billing/limits", headers));
  results.push_back(client.Options("/billing/limits", headers));
  for (const auto& res : results) {
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK(res->body == R"({"detail":"Method Not Allowed"})");
    CHECK(res->get_header_value("Content-Type") == "application/json");
  }
}

TEST_CASE("billing http: HEAD answers like GET without a body") {
  auto client = without_auth().client();
  const auto res = client.Head("/billing/limits", {{"tenant-id", "org-1"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.empty());
}

#if TOLLGATE_BILLING_ON_BEAST
// Beast hands the endpoint the headers as sent: the contract's rows that cpp-httplib 0.11.4 cannot
// pass (it drops empty values and percent-decodes the others) pass here.
TEST_CASE("billing http: an empty tenant-id is echoed as \"\"; header values arrive as sent") {
  const auto empty = without_auth().get({{"tenant-id", ""}});
  REQUIRE(empty);
  CHECK(empty->status == 200);
  CHECK(empty->body == R"({"tenant_id":"","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
  const auto empty_plan = without_auth().get({{"tenant-id", "org-1"}, {"x-plan-type", ""}});
  REQUIRE(empty_plan);
  CHECK(empty_plan->status == 422);
  CHECK(empty_plan->body == R"({"detail":[)" + enum_error("") + "]}");
  const auto encoded = without_auth().get({{"tenant-id", "org%41"}});
  REQUIRE(encoded);
  CHECK(encoded->body == R"({"tenant_id":"org%41","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}
#else
// cpp-httplib 0.11.4 (Debian 12) parses request headers itself, before any handler runs: it drops
// headers whose value is empty and percent-decodes the others (yhirose/cpp-httplib#1789; fixed in
// 0.44.0). The endpoint core is byte-exact on both (limits_endpoint_test.cpp); these checks pin what
// the httplib transport does today, so an upgrade that fixes it shows up here.
TEST_CASE("billing http: known cpp-httplib 0.11.4 transport deviations are pinned") {
  const auto empty = without_auth().get({{"tenant-id", ""}});
  REQUIRE(empty);
  CHECK(empty->status == 422);  // the contract wants 200 with "tenant_id":"" — the header never arrives
  const auto encoded = without_auth().get({{"tenant-id", "org%41"}});
  REQUIRE(encoded);
  CHECK(encoded->body == R"({"tenant_id":"orgA","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})");
}
#endif
