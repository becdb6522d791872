// Tests of metered: every path of the flow, each lock settled exactly once, statuses and secrets.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>
#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
using tollgate::credits;
using tollgate::ledger_errc;

namespace {

constexpr const char* secret_key = "sk-live-TOPSECRET";

// A ledger archetype: models exactly the ledger concept, fails on demand, records every call.
struct scripted_ledger {
  using ledger_concept = tollgate::ledger_t;

  std::optional<tollgate::ledger_error> lock_error;
  std::optional<tollgate::ledger_error> settle_error;
  std::optional<credits> refuse_above;  // settles above this are refused as invalid_amount
  bool throw_on_lock = false;

  std::mutex mutex;
  std::vector<std::string> locked_credentials;
  std::vector<std::string> idempotency_keys;
  std::map<std::string, std::vector<credits>> settles;  // lock id → every settle call's cost

  tollgate::result<tollgate::lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    std::lock_guard g(mutex);
    if (throw_on_lock) throw std::runtime_error("socket exploded");
    if (lock_error) return *lock_error;
    locked_credentials.emplace_back(credential);
    idempotency_keys.emplace_back(key);
    return tollgate::lock_grant{fmt::format("lk_{}", locked_credentials.size()), amount};
  }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) {
    std::lock_guard g(mutex);
    settles[std::string(id)].push_back(cost);
    if (refuse_above && cost > *refuse_above) return tollgate::ledger_error{ledger_errc::invalid_amount, "above the lock"};
    if (settle_error) return *settle_error;
    return tollgate::settlement{cost, false};
  }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return settle(id, credits{}); }
  bool health() { return true; }

  // The one settle of the only lock; fails the test if any lock was settled other than once.
  credits only_settlement() {
    REQUIRE(settles.size() == 1);
    REQUIRE(settles.begin()->second.size() == 1);
    return settles.begin()->second.front();
  }
};
static_assert(tollgate::ledger<scripted_ledger>);

struct log_capture {
  std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
  tollgate::logger logger() const {
    return tollgate::logger(tollgate::log_level::debug, [l = lines](tollgate::log_level, std::string_view s) { l->emplace_back(s); });
  }
  bool contains(std::string_view needle) const {
    for (const auto& l : *lines)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
};

tollgate::basic_request request_from(std::string user = secret_key) {
  tollgate::basic_request r;
  r.with_header("X-User-ID", std::move(user));
  return r;
}

using user_header = tollgate::from_header<"X-User-ID">;

// A status policy: 429 instead of 402, and a longer Retry-After.
struct my_statuses {
  using metered_option = tollgate::status_option_tag;
  static constexpr int retry_after_seconds = 7;
  static constexpr int status_for(ledger_errc e) {
    return e == ledger_errc::insufficient_funds ? 429 : tollgate::default_statuses::status_for(e);
  }
};

}  // namespace

TEST_CASE("metered: success locks the estimate, runs the handler once and settles the calculated cost") {
  scripted_ledger ledger;
  int calls = 0;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>> m{
      ledger, [&](const tollgate::basic_request&, tollgate::basic_response& res) {
        ++calls;
        res.set_content(std::string(2048, 'x'), "text/plain");
      }};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(calls == 1);
  CHECK(res.status() == 200);
  CHECK(ledger.locked_credentials == std::vector<std::string>{secret_key});
  CHECK(ledger.idempotency_keys.at(0).rfind("rq", 0) == 0);  // a fresh request key (detail::request_key)
  CHECK(ledger.only_settlement() == 0.7_cr);
}

TEST_CASE("metered: each request gets its own idempotency key") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  auto req = request_from();
  tollgate::basic_response a, b;
  m(req, a);
  m(req, b);
  REQUIRE(ledger.idempotency_keys.size() == 2);
  CHECK(ledger.idempotency_keys[0] != ledger.idempotency_keys[1]);
}

// An in-process ledger's answers cannot be lost, so a key would buy nothing and cost the ledger an
// index entry per request (see in_process_ledger): metered locks it without one.
struct in_process_scripted_ledger : scripted_ledger {
  static constexpr bool in_process = true;
};
static_assert(tollgate::in_process_ledger<in_process_scripted_ledger>);
static_assert(!tollgate::in_process_ledger<scripted_ledger>);
static_assert(tollgate::in_process_ledger<tollgate::memory_ledger>);
static_assert(tollgate::in_process_ledger<tollgate::durable_ledger<tollgate::memory_ledger>>);
static_assert(tollgate::in_process_ledger<tollgate::offloading_ledger<tollgate::memory_ledger>>);
static_assert(!tollgate::in_process_ledger<tollgate::offloading_ledger<scripted_ledger>>);
static_assert(!tollgate::in_process_ledger<tollgate::ledger_ref>);  // type-erased: it cannot say, so keys are kept

TEST_CASE("metered: an in-process ledger is locked without an idempotency key") {
  in_process_scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  auto req = request_from();
  tollgate::basic_response a, b;
  m(req, a);
  m(req, b);
  CHECK(a.status() == 200);
  REQUIRE(ledger.idempotency_keys.size() == 2);
  CHECK(ledger.idempotency_keys[0].empty());
  CHECK(ledger.idempotency_keys[1].empty());
  CHECK(ledger.settles.size() == 2);  // two locks all the same: each its own id, settled once
}

TEST_CASE("metered: memory_ledger remembers no key for metered locks, and still replays a caller's key") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u1", 10_cr);
  ledger.add_credential(secret_key, "u1");
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.25_cr>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 200);
  const auto state = ledger.export_state();
  REQUIRE(state.settled.size() == 1);
  CHECK(state.settled[0].idempotency_key.empty());
  CHECK(state.settled[0].charged == 0.25_cr);
  // The ledger itself still honours keys its callers give.
  const auto first = ledger.lock(secret_key, 1_cr, "client-key");
  const auto again = ledger.lock(secret_key, 1_cr, "client-key");
  REQUIRE(first);
  REQUIRE(again);
  CHECK(first->lock_id == again->lock_id);
  CHECK(ledger.balance("u1") == 10_cr - 0.25_cr - 1_cr);
}

TEST_CASE("metered: no user id → 401 with a detail; no lock; handler not run") {
  scripted_ledger ledger;
  bool ran = false;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{ledger, [&](const tollgate::request_ref&, const tollgate::response_ref&) { ran = true; }};
  tollgate::basic_request req;
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 401);
  CHECK(res.body() == R"({"detail":"Missing user id: expected the X-User-ID header"})");
  CHECK(res.header("Content-Type") == "application/json");
  CHECK_FALSE(ran);
  CHECK(ledger.locked_credentials.empty());
  CHECK(ledger.settles.empty());
}

TEST_CASE("metered: a refused lock answers the cause's status; the handler never runs") {
  struct row {
    ledger_errc code;
    int status;
    std::string detail_prefix;
  };
  for (const row& r : {row{ledger_errc::insufficient_funds, 402, "Insufficient balance: "},
                       row{ledger_errc::unknown_credential, 404, "User not found"},
                       row{ledger_errc::unavailable, 503, "Credit service unavailable: "},
                       row{ledger_errc::unauthorized, 500, "Credit service rejected this server's credentials"},
                       row{ledger_errc::misconfigured, 500, "Metering misconfigured: "},
                       row{ledger_errc::invalid_amount, 500, "Metering misconfigured: "}}) {
    CAPTURE(tollgate::to_string(r.code));
    scripted_ledger ledger;
    ledger.lock_error = tollgate::ledger_error{r.code, "because"};
    log_capture logs;
    bool ran = false;
    tollgate::metered<user_header, tollgate::estimate<1_cr>> m{
        ledger, [&](const tollgate::request_ref&, const tollgate::response_ref&) { ran = true; }, {logs.logger(), {}}};
    auto req = request_from();
    tollgate::basic_response res;
    m(req, res);
    CHECK(res.status() == r.status);
    CHECK(res.body().rfind("{\"detail\":\"" + r.detail_prefix, 0) == 0);
    CHECK(res.header("Retry-After").has_value() == (r.status == 503));
    CHECK_FALSE(ran);
    CHECK(ledger.settles.empty());
    CHECK_FALSE(logs.contains(secret_key));
  }
}

TEST_CASE("metered on memory_ledger: a user without a credential gets a 404 that says what is missing") {
  tollgate::memory_ledger ledger;
  ledger.add_user("carol", 5_cr);  // the slip: no add_credential("carol", "carol")
  log_capture logs;
  bool ran = false;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{
      ledger, [&](const tollgate::request_ref&, const tollgate::response_ref&) { ran = true; }, {logs.logger(), {}}};
  const auto answer = [&](std::string id) {
    const auto req = request_from(std::move(id));
    tollgate::basic_response res;
    m(req, res);
    return std::pair{res.status(), res.body()};
  };
  const auto for_carol = answer("carol");
  CHECK(for_carol.first == 404);
  CHECK(for_carol.second ==
        R"json({"detail":"User not found: no user owns this credential (a user id is a credential only once registered as one)"})json");
  CHECK(answer("nobody-at-all") == for_carol);  // the same words whether or not the id is a user: nothing to enumerate
  CHECK(logs.contains("add_credential(id, id)"));  // the debug log names the slip
  CHECK_FALSE(logs.contains("carol"));             // never the value
  CHECK_FALSE(ran);
  CHECK(ledger.balance("carol") == 5_cr);

  ledger.add_credential("carol", "carol");  // the documented fix: the id registered as a credential
  CHECK(answer("carol").first == 200);
  CHECK(ran);
  CHECK(ledger.balance("carol") == 4_cr);
}

TEST_CASE("metered: a ledger that throws on lock is treated as unavailable (503)") {
  scripted_ledger ledger;
  ledger.throw_on_lock = true;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {},
                                                            {tollgate::logger::silent(), {}}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 503);
  CHECK(res.header("Retry-After") == "1");
}

TEST_CASE("metered: a status policy overrides the statuses") {
  scripted_ledger ledger;
  ledger.lock_error = tollgate::ledger_error{ledger_errc::insufficient_funds, "empty"};
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::charge_estimate, my_statuses> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}, {tollgate::logger::silent(), {}}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 429);
  ledger.lock_error = tollgate::ledger_error{ledger_errc::unavailable, "down"};
  tollgate::basic_response res2;
  m(req, res2);
  CHECK(res2.status() == 503);
  CHECK(res2.header("Retry-After") == "7");
}

TEST_CASE("metered: the handler throws → full refund, exactly once, and the exception propagates") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<2_cr>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) { throw std::runtime_error("boom"); }};
  auto req = request_from();
  tollgate::basic_response res;
  CHECK_THROWS_WITH_AS(m(req, res), "boom", std::runtime_error);
  CHECK(ledger.only_settlement() == credits{});
}

TEST_CASE("metered: the handler throws with the memory ledger → the balance is untouched") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  tollgate::metered<user_header, tollgate::estimate<5_cr>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) { throw 42; }};
  auto req = request_from("u");
  tollgate::basic_response res;
  CHECK_THROWS(m(req, res));
  CHECK(ledger.balance("u") == 10_cr);
  CHECK(ledger.summary().locks.empty());
}

TEST_CASE("metered: the calculator throws → the estimate is charged and the failure logged") {
  struct failing_calculator {
    credits operator()(const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context&) const {
      throw std::runtime_error("price table missing");
    }
  };
  scripted_ledger ledger;
  log_capture logs;
  tollgate::metered<user_header, tollgate::estimate<3_cr>, failing_calculator> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}, {logs.logger(), {}}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 200);
  CHECK(ledger.only_settlement() == 3_cr);
  CHECK(logs.contains("price table missing"));
}

TEST_CASE("metered: costs are clamped to [0, estimate] by default") {
  SUBCASE("above the estimate") {
    scripted_ledger ledger;
    tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<4_cr>> m{
        ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
    auto req = request_from();
    tollgate::basic_response res;
    m(req, res);
    CHECK(ledger.only_settlement() == 1_cr);
  }
  SUBCASE("below zero") {
    scripted_ledger ledger;
    auto negative = [](const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context&) { return -(1_cr); };
    tollgate::metered<user_header, tollgate::estimate<1_cr>, decltype(negative)> m{
        ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}, {tollgate::logger::silent(), {}}};
    auto req = request_from();
    tollgate::basic_response res;
    m(req, res);
    CHECK(ledger.only_settlement() == credits{});
  }
}

TEST_CASE("metered: overage::charge_actual charges above the hold when the ledger allows it") {
  tollgate::memory_ledger_options o;
  o.allow_overage = true;
  tollgate::memory_ledger ledger(o);
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<4_cr>, tollgate::overage::charge_actual> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  auto req = request_from("u");
  tollgate::basic_response res;
  m(req, res);
  CHECK(ledger.balance("u") == 6_cr);

  tollgate::memory_ledger strict;  // refuses overage: the estimate is charged instead
  strict.add_user("u", 10_cr);
  strict.add_credential("u", "u");
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<4_cr>, tollgate::overage::charge_actual> m2{
      strict, [](const tollgate::request_ref&, const tollgate::response_ref&) {}, {tollgate::logger::silent(), {}}};
  tollgate::basic_response res2;
  m2(req, res2);
  CHECK(strict.balance("u") == 9_cr);
  CHECK(strict.summary().locks.empty());
}

TEST_CASE("metered: a refused overage settles the estimate and reports no failure") {
  scripted_ledger ledger;
  ledger.refuse_above = 1_cr;
  int hook_calls = 0;
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<4_cr>, tollgate::overage::charge_actual> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {},
      {tollgate::logger::silent(), [&](const tollgate::failed_settlement&) { ++hook_calls; }}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  REQUIRE(ledger.settles.size() == 1);
  CHECK(ledger.settles.begin()->second == std::vector<credits>{4_cr, 1_cr});  // probed, then the estimate
  CHECK(hook_calls == 0);
}

TEST_CASE("metered: overage::reject withholds the response and charges nothing") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<4_cr>, tollgate::overage::reject> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref& res) { res.set_content("the goods", "text/plain"); },
      {tollgate::logger::silent(), {}}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 402);
  CHECK(res.body() == R"({"detail":"The actual cost 4 exceeds the 1 held for this request"})");
  CHECK(ledger.only_settlement() == credits{});
}

TEST_CASE("metered: a failed settle still returns the response, logs the lock id (not the credential), calls the hook") {
  scripted_ledger ledger;
  ledger.settle_error = tollgate::ledger_error{ledger_errc::unavailable, "connection refused"};
  log_capture logs;
  std::vector<tollgate::failed_settlement> failures;
  tollgate::metered<user_header, tollgate::estimate<2_cr>, tollgate::fixed_cost<1.5_cr>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref& res) { res.set_content("served", "text/plain"); },
      {logs.logger(), [&](const tollgate::failed_settlement& f) { failures.push_back(f); }}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 200);
  CHECK(res.body() == "served");
  CHECK(ledger.only_settlement() == 1.5_cr);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].lock_id == "lk_1");
  CHECK(failures[0].real_cost == 1.5_cr);
  CHECK(failures[0].error.code == ledger_errc::unavailable);
  CHECK(logs.contains("lk_1"));
  CHECK_FALSE(logs.contains(secret_key));
}

TEST_CASE("metered: the handler can waive the charge or fix the cost through the context") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<2_cr>> waiving{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&, tollgate::metering_context& ctx) { ctx.waive(); }};
  auto req = request_from();
  tollgate::basic_response res;
  waiving(req, res);
  CHECK(ledger.only_settlement() == credits{});

  scripted_ledger ledger2;
  std::string seen_lock;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<2_cr>> fixing{
      ledger2, [&](const tollgate::request_ref&, const tollgate::response_ref&, tollgate::metering_context& ctx) {
        seen_lock = ctx.lock_id();
        CHECK(ctx.estimate() == 5_cr);
        CHECK(ctx.user_id().reveal() == secret_key);
        ctx.set_cost(0.42_cr);
      }};
  fixing(req, res);
  CHECK(seen_lock == "lk_1");
  CHECK(ledger2.only_settlement() == 0.42_cr);
}

TEST_CASE("metered: usage reported by the handler feeds per_token") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<0.5_cr>, tollgate::per_token<0.15_cr, 0.45_cr>> m{
      ledger, [](const tollgate::basic_request&, tollgate::basic_response&, tollgate::metering_context& ctx) {
        ctx.report_usage({.prompt_tokens = 1000, .completion_tokens = 2000});
      }};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(ledger.only_settlement() == 0.00105_cr);  // 0.00015 + 0.0009
}

TEST_CASE("metered: the handler's duration is measured by the wrapper") {
  scripted_ledger ledger;
  tollgate::metered<user_header, tollgate::estimate<10_cr>, tollgate::by_processing_time<0_cr, 1_cr>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  const credits charged = ledger.only_settlement();
  CHECK(charged >= 0.03_cr);
  CHECK(charged < 10_cr);
}

TEST_CASE("metered: an estimate that cannot price the request → 400, nothing locked") {
  struct strict_estimate {
    credits operator()(const tollgate::request_ref& r) const {
      if (!r.query("n")) throw tollgate::bad_request("query parameter n is required");
      return 1_cr;
    }
  };
  scripted_ledger ledger;
  tollgate::metered<user_header, strict_estimate> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  auto req = request_from();
  tollgate::basic_response res;
  m(req, res);
  CHECK(res.status() == 400);
  CHECK(res.body() == R"({"detail":"query parameter n is required"})");
  CHECK(ledger.locked_credentials.empty());
}

TEST_CASE("metered: handlers may be generic, take views, or be move-only") {
  scripted_ledger ledger;
  auto req = request_from();
  tollgate::basic_response res;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> generic{ledger, [](auto&, auto& r) { r.set_content("g", "text/plain"); }};
  generic(req, res);
  CHECK(res.body() == "g");
  auto owned = std::make_unique<std::string>("m");
  tollgate::metered<user_header, tollgate::estimate<1_cr>> move_only{
      ledger, [p = std::move(owned)](const tollgate::basic_request&, tollgate::basic_response& r) { r.set_content(*p, "text/plain"); }};
  move_only(req, res);
  CHECK(res.body() == "m");
  CHECK(ledger.settles.size() == 2);
}
