// plan_webhook, framework-agnostic: a full replay memory, a configured tolerance, and the store untouched on refusals.
#include <tollgate/billing/plan_webhook.hpp>

#include <chrono>
#include <memory>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "independent_hmac.hpp"

namespace {
using namespace std::chrono_literals;
using store_type = tollgate::plan_store<tollgate::default_plans>;
const std::string secret = "whsec_unit_plan_webhook";
constexpr long long t0 = 1765000000;

std::string event(const std::string& id, const std::string& plan) {
  return fmt::format(
      R"({{"id":"{}","type":"customer.subscription.updated","data":{{"object":{{"metadata":{{"tenant_id":"org-1","plan":"{}"}}}}}}}})", id,
      plan);
}
tollgate::basic_request signed_post(const std::string& body, long long t) {
  tollgate::basic_request req;
  req.with_method("POST").with_body(body);
  req.with_header("Stripe-Signature", fmt::format("t={},v1={}", t, tollgate::testing::python_hmac_sha256_hex(secret, fmt::format("{}.{}", t, body))));
  return req;
}
tollgate::billing::webhook_options options(long long now) {
  return tollgate::billing::webhook_options::with_secret(tollgate::redacted{secret})
      .with_logger(tollgate::logger::silent())
      .with_clock([now] { return std::chrono::system_clock::time_point(std::chrono::seconds(now)); });
}
}  // namespace

TEST_CASE("plan_webhook: a full replay memory answers 503 with Retry-After and changes nothing") {
  auto store = std::make_shared<store_type>();
  auto opts = options(t0);
  opts.max_remembered_events = 1;
  const tollgate::billing::stripe_plan_webhook<> webhook{std::move(opts), store};
  const auto first = signed_post(event("evt_a", "growth"), t0);
  CHECK(webhook.handle(first).status == 200);
  const auto second = signed_post(event("evt_b", "enterprise"), t0);
  const auto full = webhook.handle(second);
  CHECK(full.status == 503);
  CHECK(full.body == R"({"detail":"Too many recent events; retry later"})");
  CHECK(full.header("Retry-After") == "300");
  CHECK(store->plan_of("org-1") == "growth");
  CHECK(webhook.handle(first).body.find("duplicate") != std::string::npos);  // still remembered, not forgotten early
  CHECK(webhook.seen_events().size() == 1);
  CHECK(webhook.seen_events().retention() == 600s);  // 2 × tolerance
}

TEST_CASE("plan_webhook: the tolerance is configurable and the replay memory follows it") {
  auto store = std::make_shared<store_type>();
  const tollgate::billing::stripe_plan_webhook<> strict{options(t0 + 61).with_tolerance(60s), store};
  CHECK(strict.handle(signed_post(event("evt_s", "growth"), t0)).status == 400);
  CHECK(strict.handle(signed_post(event("evt_s", "growth"), t0 + 1)).status == 200);
  CHECK(strict.seen_events().retention() == 120s);
  CHECK(store->plan_of("org-1") == "growth");
}

TEST_CASE("plan_webhook: an unknown plan is refused before its id is remembered, so a fixed retry applies") {
  auto store = std::make_shared<store_type>();
  const tollgate::billing::stripe_plan_webhook<> webhook{options(t0), store};
  const auto refused = webhook.handle(signed_post(event("evt_p", "platinum"), t0));
  CHECK(refused.status == 422);
  CHECK(refused.body == R"({"detail":"unknown plan 'platinum': expected 'free', 'growth' or 'enterprise'"})");
  CHECK(webhook.seen_events().size() == 0);
  CHECK_FALSE(store->plan_of("org-1"));
}

TEST_CASE("plan_webhook: a null store is refused at construction") {
  CHECK_THROWS_AS(tollgate::billing::orb_plan_webhook<>(options(t0), nullptr), std::invalid_argument);
}
