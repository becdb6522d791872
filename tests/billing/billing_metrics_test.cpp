// Metrics of the billing half: JWT refusals by reason, the endpoint's answers and plan lookups, the
// plan cache, and limit checks by plan, limit and outcome.
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/jwt/verifier.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/metrics/limit_checks.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>
#include <tollgate/plans/default_plans.hpp>

#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

namespace {
namespace metrics = tollgate::metrics;

std::uint64_t sample(const metrics::registry& r, const std::string& series) {
  const auto text = metrics::render(r);
  const auto at = text.find("\n" + series + " ");  // a sample line, not the HELP line naming it
  if (at == std::string::npos) return ~std::uint64_t{0};
  return std::stoull(text.substr(at + series.size() + 2));
}
std::string token(nlohmann::json claims, const std::string& secret = "metrics-secret") {
  return tollgate::jwt::sign_hs256(std::move(claims), tollgate::redacted{secret});
}
}  // namespace

TEST_CASE("billing metrics: JWT refusals are counted by a fixed reason, never by their words") {
  metrics::registry r;
  tollgate::jwt::verify_options options;
  options.metrics = &r;
  const tollgate::jwt::verifier v{tollgate::redacted{std::string("metrics-secret")}, options};
  const auto now = static_cast<long long>(std::time(nullptr));
  CHECK_FALSE(v.verify("garbage"));
  CHECK_FALSE(v.verify(token({{"ver", "1"}, {"aud", "worker"}}, "another-secret")));
  CHECK_FALSE(v.verify(token({{"ver", "1"}, {"aud", "worker"}, {"exp", now - 10}})));
  CHECK_FALSE(v.verify(token({{"ver", "1"}, {"aud", "other"}})));
  CHECK_FALSE(v.verify(token({{"ver", "secret-looking-version"}, {"aud", "worker"}})));
  CHECK_FALSE(v.verify(token({{"ver", "1"}, {"aud", "worker"}, {"iat", "soon"}})));
  CHECK(v.verify(token({{"ver", "1"}, {"aud", "worker"}})));
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"malformed\"}") == 1);
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"signature\"}") == 1);
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"expired\"}") == 1);
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"audience\"}") == 1);
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"version\"}") == 1);
  CHECK(sample(r, "tollgate_jwt_refusals_total{reason=\"invalid_claim\"}") == 1);
  CHECK(metrics::render(r).find("secret-looking-version") == std::string::npos);
}

TEST_CASE("billing metrics: the endpoint counts answers by status and plan lookups by outcome; the cache its hits") {
  metrics::registry r;
  tollgate::cached_plan_lookup plans{[](std::string_view tenant) -> std::optional<std::string> {
    if (tenant == "org-broken") throw std::runtime_error("database down");
    if (tenant == "org-1") return "growth";
    return std::nullopt;
  }};
  plans.export_metrics(r);
  const tollgate::billing::limits_endpoint<tollgate::default_plans, tollgate::cached_plan_lookup> endpoint{
      tollgate::billing::endpoint_options::auth_disabled().with_logger(tollgate::logger::silent()).with_metrics(r), plans};
  for (const char* tenant : {"org-1", "org-1", "org-unknown", "org-broken"}) {
    tollgate::basic_request req;
    req.with_header("tenant-id", tenant);
    (void)endpoint.handle(req);
  }
  tollgate::basic_request no_tenant;
  CHECK(endpoint.handle(no_tenant).status == 422);
  CHECK(sample(r, "tollgate_billing_limits_requests_total{status=\"200\"}") == 2);
  CHECK(sample(r, "tollgate_billing_limits_requests_total{status=\"404\"}") == 1);
  CHECK(sample(r, "tollgate_billing_limits_requests_total{status=\"503\"}") == 1);
  CHECK(sample(r, "tollgate_billing_limits_requests_total{status=\"422\"}") == 1);
  CHECK(sample(r, "tollgate_plan_lookups_total{outcome=\"plan\"}") == 2);
  CHECK(sample(r, "tollgate_plan_lookups_total{outcome=\"unknown_tenant\"}") == 1);
  CHECK(sample(r, "tollgate_plan_lookups_total{outcome=\"failed\"}") == 1);
  CHECK(sample(r, "tollgate_plan_lookups_total{outcome=\"not_applicable\"}") == 1);
  CHECK(sample(r, "tollgate_plan_cache_lookups_total{result=\"hit\"}") == 1);
  CHECK(sample(r, "tollgate_plan_cache_lookups_total{result=\"miss\"}") == 3);
  CHECK(sample(r, "tollgate_plan_resolver_errors_total") == 1);
  CHECK(metrics::render(r).find("org-") == std::string::npos);  // never a tenant id
}

TEST_CASE("billing metrics: limit checks by plan, limit and outcome, from the table's names only") {
  metrics::registry r;
  metrics::limit_checks<tollgate::default_plans> checks{r};
  const auto free = *tollgate::default_plans::find("free");
  CHECK(checks.check(free, "deployments", 0)->allowed);
  CHECK_FALSE(checks.check(free, "deployments", 1)->allowed);
  CHECK_FALSE(checks.check(free, "made-up-limit", 0));
  CHECK(sample(r, "tollgate_plan_limit_checks_total{plan=\"free\",limit=\"deployments\",outcome=\"allowed\"}") == 1);
  CHECK(sample(r, "tollgate_plan_limit_checks_total{plan=\"free\",limit=\"deployments\",outcome=\"refused\"}") == 1);
  CHECK(sample(r, "tollgate_plan_limit_checks_total{plan=\"free\",limit=\"other\",outcome=\"unknown_limit\"}") == 1);
  CHECK(sample(r, "tollgate_plan_limit_checks_total{plan=\"growth\",limit=\"deployments\",outcome=\"allowed\"}") == 0);
  CHECK(metrics::render(r).find("made-up-limit") == std::string::npos);
}
