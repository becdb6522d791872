// Tests of the metrics registry, the text exposition and what metered reports to it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/detail/circuit_breaker.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
namespace metrics = tollgate::metrics;

TEST_CASE("metrics: a small registry renders exactly in the text format 0.0.4") {
  metrics::registry r;
  auto& requests = r.counter("app_requests_total", "Requests served.", {"route", "outcome"});
  requests.with({"/a", "served"}).inc(3);
  requests.with({"/b", "402"}).inc();
  r.gauge("app_in_flight", "Requests in flight.").with({}).set(-2);
  auto& h = r.histogram("app_latency_seconds", "Latency.", {"op"}, metrics::histogram::options{{1'000, 5'000}, 1e6});
  h.with({"lock"}).observe(500);    // le 0.001
  h.with({"lock"}).observe(1'000);  // le 0.001 (a bound is inclusive)
  h.with({"lock"}).observe(4'000);  // le 0.005
  h.with({"lock"}).observe(9'000);  // +Inf only
  r.watch("app_depth", "Outbox depth.", {}, {}, [] { return 7.5; });

  CHECK(metrics::render(r) ==
        "# HELP app_requests_total Requests served.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{route=\"/a\",outcome=\"served\"} 3\n"
        "app_requests_total{route=\"/b\",outcome=\"402\"} 1\n"
        "# HELP app_in_flight Requests in flight.\n"
        "# TYPE app_in_flight gauge\n"
        "app_in_flight -2\n"
        "# HELP app_latency_seconds Latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{op=\"lock\",le=\"0.001\"} 2\n"
        "app_latency_seconds_bucket{op=\"lock\",le=\"0.005\"} 3\n"
        "app_latency_seconds_bucket{op=\"lock\",le=\"+Inf\"} 4\n"
        "app_latency_seconds_sum{op=\"lock\"} 0.0145\n"
        "app_latency_seconds_count{op=\"lock\"} 4\n"
        "# HELP app_depth Outbox depth.\n"
        "# TYPE app_depth gauge\n"
        "app_depth 7.5\n");
  CHECK(metrics::text_content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("metrics: label values and help text are escaped") {
  metrics::registry r;
  r.counter("x_total", "Back\\slash and\nnewline \"quoted\".", {"v"}).with({"a\"b\\c\nd"}).inc();
  CHECK(metrics::render(r) ==
        "# HELP x_total Back\\\\slash and\\nnewline \"quoted\".\n"
        "# TYPE x_total counter\n"
        "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("metrics: names, labels and re-registration are checked") {
  metrics::registry r;
  CHECK_THROWS_AS(r.counter("1bad", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h", "x", {"le"}, metrics::histogram::latency_seconds()), std::invalid_argument);
  auto& a = r.counter("same_total", "x", {"k"});
  CHECK(&r.counter("same_total", "x", {"k"}) == &a);  // every route shares one family
  CHECK_THROWS_AS(r.gauge("same_total", "x", {"k"}), std::logic_error);
  CHECK_THROWS_AS(r.counter("same_total", "x", {"other"}), std::logic_error);
  CHECK_THROWS_AS(a.with({"1", "2"}), std::invalid_argument);
  CHECK(&a.with({"v"}) == &a.with({"v"}));  // a child is made once
  CHECK_THROWS_AS(metrics::histogram(metrics::histogram::options{{5, 5}, 1}), std::invalid_argument);
}

TEST_CASE("metrics: special values render as the format spells them") {
  metrics::registry r;
  r.watch("inf_value", "x", {"k"}, {"pos"}, [] { return std::numeric_limits<double>::infinity(); });
  r.watch("inf_value", "x", {"k"}, {"nan"}, [] { return std::numeric_limits<double>::quiet_NaN(); });
  r.watch("inf_value", "x", {"k"}, {"throws"}, []() -> double { throw std::runtime_error("gone"); });
  const auto text = metrics::render(r);
  CHECK(text.find("inf_value{k=\"pos\"} +Inf\n") != std::string::npos);
  CHECK(text.find("inf_value{k=\"nan\"} NaN\n") != std::string::npos);
  CHECK(text.find("throws") == std::string::npos);  // a broken callback is skipped, not fatal
}

TEST_CASE("metrics: concurrent increments and observations sum exactly") {
  metrics::registry r;
  auto& c = r.counter("c_total", "x").with({});
  auto& h = r.histogram("h_seconds", "x", {}, metrics::histogram::options{{10, 100}, 1}).with({});
  constexpr int threads = 4;
  constexpr int per_thread = 50'000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        c.inc();
        h.observe(t * 50);  // 0, 50, 100, 150
      }
    });
  for (auto& t : pool) t.join();
  CHECK(c.value() == std::uint64_t{threads} * per_thread);
  CHECK(h.count() == std::uint64_t{threads} * per_thread);
  CHECK(h.sum() == std::int64_t{per_thread} * (0 + 50 + 100 + 150));
  const auto text = metrics::render(r);
  CHECK(text.find("h_seconds_bucket{le=\"10\"} 50000\n") != std::string::npos);
  CHECK(text.find("h_seconds_bucket{le=\"100\"} 150000\n") != std::string::npos);  // cumulative
  CHECK(text.find("h_seconds_bucket{le=\"+Inf\"} 200000\n") != std::string::npos);
  CHECK(text.find("h_seconds_count 200000\n") != std::string::npos);
}

namespace {
std::uint64_t sample(const metrics::registry& r, const std::string& series) {
  const auto text = metrics::render(r);
  const auto at = text.find("\n" + series + " ");  // a sample line, not the HELP line naming it
  if (at == std::string::npos) return ~std::uint64_t{0};
  return std::stoull(text.substr(at + series.size() + 2));
}
std::string outcome(std::string_view o) { return "tollgate_requests_total{route=\"/api/x\",outcome=\"" + std::string(o) + "\"}"; }
tollgate::basic_request as(std::string user) {
  tollgate::basic_request r;
  if (!user.empty()) r.with_header("X-User-ID", std::move(user));
  return r;
}
}  // namespace

TEST_CASE("metrics: a metered route counts outcomes, exact credits and ledger latency") {
  tollgate::memory_ledger ledger;
  ledger.add_user("alice", 2.1_cr);
  ledger.add_credential("sk-alice", "alice");
  metrics::registry r;
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>> route{
      ledger,
      [](const tollgate::request_ref&, const tollgate::response_ref& res, tollgate::metering_context& ctx) {
        ctx.set_cost(0.900001_cr);
        res.set_content("ok", "text/plain");
      },
      tollgate::metered_config{.metrics = &r, .route = "/api/x", .time_one_request_in = 1}};
  for (const char* user : {"sk-alice", "sk-alice", "sk-alice", "", "sk-nobody"}) {
    auto req = as(user);
    tollgate::basic_response res;
    route(req, res);
  }
  // 2.1 credits: two holds of 1 fit; 1.800002 is charged, and the 0.299998 left refuses the third (402).
  CHECK(sample(r, outcome("served")) == 2);
  CHECK(sample(r, outcome("402")) == 1);
  CHECK(sample(r, outcome("401")) == 1);
  CHECK(sample(r, outcome("404")) == 1);
  CHECK(sample(r, outcome("500")) == 0);
  CHECK(sample(r, "tollgate_credits_locked_micros_total{route=\"/api/x\"}") == 2'000'000);
  CHECK(sample(r, "tollgate_credits_charged_micros_total{route=\"/api/x\"}") == 1'800'002);
  CHECK(sample(r, "tollgate_credits_refunded_micros_total{route=\"/api/x\"}") == 199'998);
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"lock\",ledger=\"memory\"}") == 4);  // 401 never asks
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"settle\",ledger=\"memory\"}") == 2);
  CHECK(sample(r, "tollgate_settle_failures_total{ledger=\"memory\"}") == 0);
}

TEST_CASE("metrics: a route without metrics registers nothing, unless a global registry is set") {
  tollgate::memory_ledger ledger;
  metrics::registry r;
  auto handler = [](const tollgate::request_ref&, const tollgate::response_ref&) {};
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>> off{ledger, handler};
  auto req = as("");
  tollgate::basic_response res;
  off(req, res);
  CHECK(metrics::render(r).empty());
  metrics::global_registry().store(&r);
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>> on{ledger, handler};
  metrics::global_registry().store(nullptr);
  on(req, res);
  CHECK(sample(r, "tollgate_requests_total{route=\"unnamed\",outcome=\"401\"}") == 1);
}

namespace {
// A ledger that can be switched down (every call unavailable), to fill a durable outbox.
struct flaky_ledger {
  using ledger_concept = tollgate::ledger_t;
  tollgate::memory_ledger& real;
  std::atomic<bool> down{false};
  tollgate::result<tollgate::lock_grant> lock(std::string_view c, tollgate::credits a, std::string_view k) { return real.lock(c, a, k); }
  tollgate::result<tollgate::settlement> settle(std::string_view id, tollgate::credits cost) {
    if (down) return tollgate::ledger_error{tollgate::ledger_errc::unavailable, "down"};
    return real.settle(id, cost);
  }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return settle(id, {}); }
  bool health() { return !down; }
};
// What watch_circuit reads, over the real breaker the credit-service ledger uses.
struct breaker_owner {
  tollgate::detail::circuit_breaker breaker{2, std::chrono::seconds(60)};
  int circuit_state() const { return breaker.state_code(); }
};
double gauge_value(const metrics::registry& r, const std::string& series) {
  const auto text = metrics::render(r);
  const auto at = text.find("\n" + series + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + series.size() + 2));
}
}  // namespace

TEST_CASE("metrics: the outbox gauges read a durable ledger's depth and oldest age at scrape time") {
  tollgate::memory_ledger real;
  real.add_user("u", 10_cr);
  real.add_credential("k", "u");
  flaky_ledger flaky{real};
  tollgate::durable_ledger<flaky_ledger> durable(flaky, {.first_retry = std::chrono::minutes(1), .max_retry = std::chrono::minutes(1), .shutdown_grace = std::chrono::milliseconds(0)});
  metrics::registry r;
  metrics::watch_outbox(r, durable);
  CHECK(gauge_value(r, "tollgate_outbox_pending{ledger=\"durable\"}") == 0);
  CHECK(gauge_value(r, "tollgate_outbox_oldest_pending_age_seconds{ledger=\"durable\"}") == 0);
  auto grant = durable.lock("k", 1_cr, "key-1");
  REQUIRE(grant);
  flaky.down = true;
  auto deferred = durable.settle(grant->lock_id, 0.5_cr);
  REQUIRE(deferred);
  CHECK(deferred->deferred);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(gauge_value(r, "tollgate_outbox_pending{ledger=\"durable\"}") == 1);
  CHECK(gauge_value(r, "tollgate_outbox_oldest_pending_age_seconds{ledger=\"durable\"}") >= 0.02);
  flaky.down = false;
  CHECK(durable.flush(std::chrono::seconds(5)));
  CHECK(gauge_value(r, "tollgate_outbox_pending{ledger=\"durable\"}") == 0);
}

TEST_CASE("metrics: the breaker gauge follows closed → open") {
  breaker_owner owner;
  metrics::registry r;
  metrics::watch_circuit(r, owner);
  CHECK(gauge_value(r, "tollgate_circuit_breaker_state{ledger=\"credit_service\"}") == 0);
  owner.breaker.record_failure();
  owner.breaker.record_failure();
  CHECK(gauge_value(r, "tollgate_circuit_breaker_state{ledger=\"credit_service\"}") == 1);
  owner.breaker.record_success();
  CHECK(gauge_value(r, "tollgate_circuit_breaker_state{ledger=\"credit_service\"}") == 0);
}

TEST_CASE("metrics: the non-blocking path counts outcomes, locks and charges too") {
  tollgate::memory_ledger ledger;  // answers inline
  ledger.add_user("bob", 1_cr);
  ledger.add_credential("sk-bob", "bob");
  metrics::registry r;
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<0.6_cr>, tollgate::fixed_cost<0.5_cr>> route{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref& res) { res.set_content("ok", "text/plain"); },
      tollgate::metered_config{.metrics = &r, .route = "/api/x", .time_one_request_in = 1}};
  REQUIRE(route.serves_async());
  int done = 0;
  for (const char* user : {"sk-bob", "sk-bob", ""}) {
    auto req = as(user);
    tollgate::basic_response res;
    route.async_call(req, res, [](tollgate::unique_task t) { std::move(t)(); }, [&] { ++done; });
  }
  CHECK(done == 3);
  CHECK(sample(r, outcome("served")) == 1);
  CHECK(sample(r, outcome("402")) == 1);  // 0.5 left: a hold of 0.6 is refused
  CHECK(sample(r, outcome("401")) == 1);
  CHECK(sample(r, "tollgate_credits_locked_micros_total{route=\"/api/x\"}") == 600'000);
  CHECK(sample(r, "tollgate_credits_charged_micros_total{route=\"/api/x\"}") == 500'000);
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"lock\",ledger=\"memory\"}") == 2);
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"settle\",ledger=\"memory\"}") == 1);
  CHECK(sample(r, "tollgate_credits_refunded_micros_total{route=\"/api/x\"}") == 100'000);  // the async settlement knows the hold
}

TEST_CASE("metrics: ledger latency is sampled, one request in time_one_request_in; counters count every request") {
  tollgate::memory_ledger ledger;
  ledger.add_user("carol", 100_cr);
  ledger.add_credential("sk-carol", "carol");
  metrics::registry r;
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<1_cr>> route{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {},
      tollgate::metered_config{.metrics = &r, .route = "/api/x", .time_one_request_in = 4}};
  for (int i = 0; i < 12; ++i) {
    auto req = as("sk-carol");
    tollgate::basic_response res;
    route(req, res);
  }
  CHECK(sample(r, outcome("served")) == 12);
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"lock\",ledger=\"memory\"}") == 3);
  CHECK(sample(r, "tollgate_ledger_call_duration_seconds_count{operation=\"settle\",ledger=\"memory\"}") == 3);
}
