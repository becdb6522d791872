// The built example binary with its plan-change webhooks: a signed event (signed by python3's hmac) changes
// what GET /billing/limits returns at once; each refusal leaves the limits unchanged. Real loopback HTTP.
#include <tollgate/jwt/sign.hpp>

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

#include "independent_hmac.hpp"
#include "support/child_process.hpp"

#ifndef TOLLGATE_BILLING_EXAMPLE_BINARY
#error "TOLLGATE_BILLING_EXAMPLE_BINARY must name the built tollgate_billing_limits executable"
#endif

namespace {
using tollgate::testing::python_hmac_sha256_hex;

const std::string jwt_secret = "example-webhook-jwt-secret-42";
const std::string stripe_secret = "whsec_example_binary_3f9c";
const std::string orb_secret = "orb-example-binary-secret-d41";

// The example with a clean environment plus `env`; stderr kept in a file to search for secrets.
class example {
 public:
  explicit example(std::vector<std::string> env)
      : stderr_path_(fmt::format("/tmp/tollgate_billing_webhook_example_{}_{}.log", ::getpid(), ++count_)),
        process_({TOLLGATE_BILLING_EXAMPLE_BINARY, "--port", "0", "--secret", jwt_secret}, std::move(env), stderr_path_,
                 tollgate::testing::child_process::environment::only_given) {
    const auto line = process_.read_line();
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(line, m, std::regex(R"(listening on 127\.0\.0\.1:([0-9]+))")), "first line: " << line);
    port_ = std::stoi(m[1].str());
  }
  example(const example&) = delete;
  example& operator=(const example&) = delete;
  ~example() { std::remove(stderr_path_.c_str()); }

  [[nodiscard]] httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }
  [[nodiscard]] static std::string token() {
    const auto now = static_cast<long long>(std::time(nullptr));
    return tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, jwt_secret);
  }
  [[nodiscard]] std::string limits(const std::string& tenant) const {
    auto res = client().Get("/billing/limits", {{"Authorization", "Bearer " + token()}, {"tenant-id", tenant}});
    REQUIRE(res);
    return res->status == 200 ? res->body : fmt::format("status {}", res->status);
  }
  httplib::Result post(const std::string& path, const std::string& body, const httplib::Headers& headers) const {
    return client().Post(path.c_str(), headers, body, "application/json");
  }
  int stop() {
    const int status = process_.stop(SIGTERM);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  [[nodiscard]] std::string stderr_text() const {
    std::ifstream in(stderr_path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  static inline int count_ = 0;
  std::string stderr_path_;
  tollgate::testing::child_process process_;
  int port_ = 0;
};

long long now() { return static_cast<long long>(std::time(nullptr)); }

std::string stripe_event(const std::string& id, const std::string& tenant, const std::string& plan, const std::string& extra = "") {
  return fmt::format(
      R"({{"id":"{}","object":"event","created":{},"type":"customer.subscription.updated","data":{{"object":{{"object":"subscription",)"
      R"("metadata":{{"tenant_id":"{}","plan":"{}"{}}}}}}}}})",
      id, now(), tenant, plan, extra);
}
// Stripe-Signature as Stripe documents it: t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>.<body>")).
httplib::Headers stripe_signed(const std::string& body, long long t, const std::string& secret = stripe_secret) {
  return {{"Stripe-Signature", fmt::format("t={},v1={}", t, python_hmac_sha256_hex(secret, std::to_string(t) + "." + body))}};
}

std::string utc_iso8601(long long seconds) {
  const std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf) + ".000";
}
// Orb's headers: X-Orb-Timestamp (ISO 8601, UTC) and X-Orb-Signature: v1=hex(HMAC-SHA256(secret, "v1:<timestamp>:<body>")).
httplib::Headers orb_signed(const std::string& body, long long t) {
  const std::string stamp = utc_iso8601(t);
  return {{"X-Orb-Timestamp", stamp}, {"X-Orb-Signature", "v1=" + python_hmac_sha256_hex(orb_secret, "v1:" + stamp + ":" + body)}};
}

const std::string free_limits = R"({"tenant_id":"org-77","limits":{"deployments":1,"self_hosted_workers":5,"plan_type":"free"}})";
const std::string growth_8 = R"({"tenant_id":"org-77","limits":{"deployments":8,"self_hosted_workers":null,"plan_type":"growth"}})";
}  // namespace

TEST_CASE("billing example webhooks: a signed Stripe event switches the plan; refusals change nothing") {
  example ex({"STRIPE_WEBHOOK_SECRET=" + stripe_secret, "ORB_WEBHOOK_SECRET=" + orb_secret});
  const std::string path = "/billing/webhooks/stripe";
  CHECK(ex.limits("org-77") == free_limits);  // not in the store yet: the header fallback's default plan

  const std::string upgrade = stripe_event("evt_ex_1", "org-77", "growth", R"(,"limit.deployments":"8")");
  const auto applied = ex.post(path, upgrade, stripe_signed(upgrade, now()));
  REQUIRE(applied);
  CHECK(applied->status == 200);
  CHECK(applied->body == R"({"status":"applied","event_id":"evt_ex_1","tenant_id":"org-77","plan_type":"growth"})");
  CHECK(ex.limits("org-77") == growth_8);  // at once

  const std::string downgrade = stripe_event("evt_ex_2", "org-77", "free");
  struct refusal {
    const char* what;
    std::string body;
    httplib::Headers headers;
    int status;
  };
  const std::vector<refusal> refusals = {
      {"wrong secret", downgrade, stripe_signed(downgrade, now(), "whsec_wrong"), 400},
      {"stale timestamp", downgrade, stripe_signed(downgrade, now() - 600), 400},
      {"no signature", downgrade, {}, 400},
      {"unknown plan", stripe_event("evt_ex_3", "org-77", "platinum"), stripe_signed(stripe_event("evt_ex_3", "org-77", "platinum"), now()), 422},
      {"malformed body", "{\"id\":", stripe_signed("{\"id\":", now()), 400},
      {"replayed event", upgrade, stripe_signed(upgrade, now()), 200},
  };
  for (const auto& r : refusals) {
    CAPTURE(r.what);
    const auto res = ex.post(path, r.body, r.headers);
    REQUIRE(res);
    CHECK(res->status == r.status);
    CHECK(res->body.find("\"detail\"") != std::string::npos);
    CHECK(ex.limits("org-77") == growth_8);
  }
  CHECK(ex.stop() == 0);
  const auto log = ex.stderr_text();
  CHECK(log.find(stripe_secret) == std::string::npos);
  CHECK(log.find(orb_secret) == std::string::npos);
  CHECK(log.find(jwt_secret) == std::string::npos);
  CHECK(log.find("POST /billing/webhooks/stripe on") != std::string::npos);
}

TEST_CASE("billing example webhooks: a signed Orb event switches the plan") {
  example ex({"ORB_WEBHOOK_SECRET=" + orb_secret});
  CHECK(ex.limits("org-77") == free_limits);
  const std::string body = fmt::format(
      R"({{"id":"evt_orb_ex","created_at":"{}","type":"subscription.plan_changed","subscription":{{"customer":{{"external_customer_id":"org-77"}},)"
      R"("plan":{{"external_plan_id":"enterprise"}},"metadata":{{}}}},"properties":{{"previous_plan_id":"p"}}}})",
      utc_iso8601(now()));
  const auto res = ex.post("/billing/webhooks/orb", body, orb_signed(body, now()));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(ex.limits("org-77") == R"({"tenant_id":"org-77","limits":{"deployments":null,"self_hosted_workers":null,"plan_type":"enterprise"}})");
  // Without STRIPE_WEBHOOK_SECRET the Stripe webhook is not served at all.
  const auto off = ex.post("/billing/webhooks/stripe", body, {});
  REQUIRE(off);
  CHECK(off->status == 404);
  CHECK(ex.stop() == 0);
  CHECK(ex.stderr_text().find(orb_secret) == std::string::npos);
  CHECK(ex.stderr_text().find("POST /billing/webhooks/stripe off (STRIPE_WEBHOOK_SECRET is not set)") != std::string::npos);
}

// README's walkthrough, step by step against the binary: create deployments until refused, switch
// the plan with a signed webhook, and the new limit applies to the very next create.
TEST_CASE("billing example walkthrough: refused at the free limit, upgraded by a signed webhook, allowed at once") {
  example ex({"STRIPE_WEBHOOK_SECRET=" + stripe_secret});
  const httplib::Headers as_org = {{"Authorization", "Bearer " + example::token()}, {"tenant-id", "org-walk"}};
  auto create = [&] {
    auto res = ex.client().Post("/deployments", as_org, "", "application/json");
    REQUIRE(res);
    return *res;
  };
  auto usage = [&] {
    auto res = ex.client().Get("/billing/usage", as_org);
    REQUIRE(res);
    CHECK(res->status == 200);
    return res->body;
  };

  CHECK(create().status == 201);  // the free plan allows one deployment
  const auto refused = create();
  CHECK(refused.status == 403);
  CHECK(refused.body.find("\"detail\"") != std::string::npos);
  CHECK(usage().find(R"("deployments":{"used":1,"limit":1,"remaining":0})") != std::string::npos);

  const std::string upgrade = stripe_event("evt_walk_1", "org-walk", "growth");
  const auto applied = ex.post("/billing/webhooks/stripe", upgrade, stripe_signed(upgrade, now()));
  REQUIRE(applied);
  CHECK(applied->status == 200);

  CHECK(create().status == 201);  // growth allows five: no wait for a cache to expire
  CHECK(usage().find(R"("deployments":{"used":2,"limit":5,"remaining":3})") != std::string::npos);
  for (int i = 0; i < 3; ++i) CHECK(create().status == 201);
  CHECK(create().status == 403);  // the sixth

  // Each create's limit check is counted by plan and outcome, never by tenant.
  const auto metrics = ex.client().Get("/metrics");
  REQUIRE(metrics);
  for (const char* series : {R"(tollgate_plan_limit_checks_total{plan="free",limit="deployments",outcome="allowed"} 1)",
                             R"(tollgate_plan_limit_checks_total{plan="free",limit="deployments",outcome="refused"} 1)",
                             R"(tollgate_plan_limit_checks_total{plan="growth",limit="deployments",outcome="allowed"} 4)",
                             R"(tollgate_plan_limit_checks_total{plan="growth",limit="deployments",outcome="refused"} 1)"}) {
    CAPTURE(series);
    CHECK(metrics->body.find(series) != std::string::npos);
  }
  CHECK(metrics->body.find("org-walk") == std::string::npos);
  CHECK(ex.stop() == 0);
}
