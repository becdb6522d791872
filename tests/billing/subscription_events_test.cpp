// stripe_subscription_events and orb_subscription_events: exactly which fields are read, and every refusal.
#include <tollgate/billing/subscription_events.hpp>

#include <chrono>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace {
using nlohmann::json;
using kind = tollgate::billing::plan_change_read::kind;
const tollgate::billing::stripe_subscription_events stripe{};
const tollgate::billing::orb_subscription_events orb{};

json stripe_event(json metadata, std::string type = "customer.subscription.updated") {
  return {{"id", "evt_1"}, {"object", "event"}, {"type", type}, {"created", 1765000000},
          {"data", {{"object", {{"object", "subscription"}, {"customer", "cus_1"}, {"metadata", metadata}}}}}};
}
json orb_event(json subscription, std::string type = "subscription.plan_changed") {
  return {{"id", "evt_o"}, {"created_at", "2025-12-06T05:46:40+00:00"}, {"type", type}, {"subscription", subscription},
          {"properties", {{"previous_plan_id", "p"}}}};
}
}  // namespace

TEST_CASE("stripe_subscription_events: tenant, plan and limits from the subscription's metadata") {
  const auto read = stripe.read(stripe_event({{"tenant_id", "org-1"}, {"plan", "growth"}, {"limit.deployments", "8"},
                                              {"limit.self_hosted_workers", "unlimited"}, {"unrelated", "x"}}));
  REQUIRE(read.outcome == kind::change);
  CHECK(read.change.event_id == "evt_1");
  CHECK(read.change.tenant == "org-1");
  CHECK(read.change.assignment.plan == "growth");
  REQUIRE(read.change.assignment.overrides.size() == 2);
  CHECK(read.change.assignment.overrides[0] == std::pair<std::string, tollgate::limit_value>{"deployments", 8});
  CHECK(read.change.assignment.overrides[1] == std::pair<std::string, tollgate::limit_value>{"self_hosted_workers", tollgate::unlimited});
  REQUIRE(read.change.occurred_at);
  CHECK(read.change.occurred_at->time_since_epoch() == std::chrono::seconds(1765000000));
  CHECK(stripe.read(stripe_event({{"tenant_id", "org-1"}, {"plan", "free"}}, "customer.subscription.created")).outcome == kind::change);
}

TEST_CASE("stripe_subscription_events: other types are ignored; missing or bad fields are refused") {
  CHECK(stripe.read(stripe_event({{"tenant_id", "org-1"}, {"plan", "growth"}}, "customer.subscription.deleted")).outcome == kind::ignored);
  CHECK(stripe.read(stripe_event({{"plan", "growth"}})).outcome == kind::invalid);
  CHECK(stripe.read(stripe_event({{"tenant_id", "org-1"}})).outcome == kind::invalid);
  CHECK(stripe.read(stripe_event({{"tenant_id", 42}, {"plan", "growth"}})).outcome == kind::invalid);
  CHECK(stripe.read(stripe_event({{"tenant_id", std::string(257, 'x')}, {"plan", "growth"}})).outcome == kind::invalid);
  for (const json& bad : {json("-1"), json("1.5"), json(""), json("lots"), json(-3), json(true), json("9999999999999999999")}) {
    CAPTURE(bad.dump());
    const auto read = stripe.read(stripe_event({{"tenant_id", "org-1"}, {"plan", "growth"}, {"limit.deployments", bad}}));
    CHECK(read.outcome == kind::invalid);
    CHECK(read.message.find("limit.deployments") != std::string::npos);
  }
  CHECK(stripe.read(stripe_event({{"tenant_id", "org-1"}, {"plan", "growth"}, {"limit.deployments", 3}})).outcome == kind::change);
  CHECK(stripe.read(json::array()).outcome == kind::malformed);
  CHECK(stripe.read(json{{"type", "x"}}).outcome == kind::malformed);
  CHECK(stripe.read(json{{"id", "evt"}}).outcome == kind::malformed);
  CHECK(stripe.read(json{{"id", ""}, {"type", "x"}}).outcome == kind::malformed);
  CHECK(stripe.read(json{{"id", "evt"}, {"type", "customer.subscription.updated"}, {"data", "x"}}).outcome == kind::invalid);
}

TEST_CASE("orb_subscription_events: tenant from the customer's external id, plan from the plan's external id") {
  const auto read = orb.read(orb_event({{"id", "sub"},
                                        {"customer", {{"id", "cus"}, {"external_customer_id", "org-9"}}},
                                        {"plan", {{"id", "plan_x"}, {"external_plan_id", "enterprise"}, {"name", "Enterprise"}}},
                                        {"metadata", {{"limit.deployments", "40"}}}}));
  REQUIRE(read.outcome == kind::change);
  CHECK(read.change.event_id == "evt_o");
  CHECK(read.change.tenant == "org-9");
  CHECK(read.change.assignment.plan == "enterprise");
  REQUIRE(read.change.assignment.overrides.size() == 1);
  CHECK(read.change.assignment.overrides[0].second == tollgate::limit_value(40));
  REQUIRE(read.change.occurred_at);
  CHECK(read.change.occurred_at->time_since_epoch() == std::chrono::seconds(1765000000));
  for (const char* type : {"subscription.created", "subscription.started"})
    CHECK(orb.read(orb_event({{"customer", {{"external_customer_id", "a"}}}, {"plan", {{"external_plan_id", "free"}}}}, type)).outcome ==
          kind::change);
}

TEST_CASE("orb_subscription_events: refusals") {
  CHECK(orb.read(orb_event({}, "invoice.issued")).outcome == kind::ignored);
  CHECK(orb.read(orb_event({{"customer", {{"id", "cus"}}}, {"plan", {{"external_plan_id", "free"}}}})).outcome == kind::invalid);
  CHECK(orb.read(orb_event({{"customer", {{"external_customer_id", "a"}}}, {"plan", {{"id", "plan_x"}}}})).outcome == kind::invalid);
  CHECK(orb.read(orb_event({{"customer", {{"external_customer_id", nullptr}}}, {"plan", {{"external_plan_id", "free"}}}})).outcome ==
        kind::invalid);
  CHECK(orb.read(json{{"id", 5}, {"type", "subscription.plan_changed"}}).outcome == kind::malformed);
  // An unreadable created_at only loses the ordering, not the change.
  auto event = orb_event({{"customer", {{"external_customer_id", "a"}}}, {"plan", {{"external_plan_id", "free"}}}});
  event["created_at"] = "yesterday";
  const auto read = orb.read(event);
  CHECK(read.outcome == kind::change);
  CHECK_FALSE(read.change.occurred_at);
}
