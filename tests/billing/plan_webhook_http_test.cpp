// Plan-change webhooks over real HTTP on loopback: a signed Stripe or Orb event changes GET /billing/limits at once;
// every refusal changes nothing. Built twice: on cpp-httplib, and with TOLLGATE_BILLING_ON_BEAST on tollgate's Beast server.
#if TOLLGATE_BILLING_ON_BEAST
#include <boost/asio/io_context.hpp>
#include <tollgate/billing/beast.hpp>
#else
#include <tollgate/billing/httplib.hpp>
#endif
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/plan_webhook.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "independent_hmac.hpp"

namespace {
using nlohmann::json;
using namespace std::chrono_literals;
using tollgate::testing::python_hmac_sha256_hex;
using limits_type = tollgate::billing::limits_endpoint<tollgate::default_plans, tollgate::cached_plan_lookup>;
using store_type = tollgate::plan_store<tollgate::default_plans>;

const std::string stripe_secret = "whsec_loopback_stripe_5b1d";
const std::string orb_secret = "orb-loopback-secret-77aa";
constexpr long long t0 = 1765000000;  // the fixture's clock starts here: 2025-12-06T05:46:40Z

// Everything a test needs: the store, a warm cache in front of it, the limits endpoint and both webhooks
// mounted on one loopback server, a movable clock, and the log lines the endpoints wrote.
class fixture {
 public:
  explicit fixture(bool with_secrets = true)
      : clock_(std::make_shared<std::atomic<long long>>(t0)), store_(std::make_shared<store_type>()),
        lines_(std::make_shared<log_lines>()),
        cache_([store = store_](std::string_view tenant) { return store->plan_of(tenant); }, std::chrono::hours(1)) {
    REQUIRE(store_->assign("org-1", {"free", {}}).ok());
    REQUIRE(store_->assign("org-2", {"free", {}}).ok());
    tollgate::logger log{tollgate::log_level::debug, [lines = lines_](tollgate::log_level, std::string_view line) {
                           std::lock_guard lock(lines->mutex);
                           lines->text.emplace_back(line);
                         }};
    auto options = [&](const std::string& secret) {
      return tollgate::billing::webhook_options::with_secret(tollgate::redacted{with_secrets ? secret : ""})
          .with_logger(log)
          .with_clock([clock = clock_] { return std::chrono::system_clock::time_point(std::chrono::seconds(clock->load())); });
    };
    auto limits = std::make_shared<const limits_type>(tollgate::billing::endpoint_options::auth_disabled().with_logger(tollgate::logger::silent()),
                                                      cache_, store_->overrides());
    auto stripe = std::make_shared<const tollgate::billing::stripe_plan_webhook<>>(options(stripe_secret), store_, cache_);
    auto orb = std::make_shared<const tollgate::billing::orb_plan_webhook<>>(options(orb_secret), store_, cache_);
#if TOLLGATE_BILLING_ON_BEAST
    tollgate::beast::router routes;
    tollgate::billing::mount(routes, limits);
    tollgate::billing::mount(routes, stripe, "/billing/webhooks/stripe");
    tollgate::billing::mount(routes, orb, "/billing/webhooks/orb");
    server_.emplace(io_, std::move(routes));
    port_ = server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
#else
    tollgate::billing::mount(server_, limits);
    tollgate::billing::mount(server_, stripe, "/billing/webhooks/stripe");
    tollgate::billing::mount(server_, orb, "/billing/webhooks/orb");
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    REQUIRE(server_.is_running());
#endif
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;
  ~fixture() {
#if TOLLGATE_BILLING_ON_BEAST
    io_.stop();
#else
    server_.stop();
#endif
    thread_.join();
  }

  [[nodiscard]] httplib::Client client() const { return httplib::Client("127.0.0.1", port_); }
  /// GET /billing/limits for `tenant`: the body, or the status when it is not 200.
  [[nodiscard]] std::string limits(const std::string& tenant) const {
    auto res = client().Get("/billing/limits", {{"tenant-id", tenant}});
    REQUIRE(res);
    return res->status == 200 ? res->body : fmt::format("status {}", res->status);
  }
  httplib::Result post(const std::string& path, const std::string& body, const httplib::Headers& headers) const {
    return client().Post(path.c_str(), headers, body, "application/json");
  }
  void set_clock(long long seconds) { clock_->store(seconds); }
  [[nodiscard]] const store_type& store() const { return *store_; }
  [[nodiscard]] std::string log_text() const {
    std::lock_guard lock(lines_->mutex);
    std::string all;
    for (const auto& l : lines_->text) all += l + "\n";
    return all;
  }

 private:
  struct log_lines {
    std::mutex mutex;
    std::vector<std::string> text;
  };
  std::shared_ptr<std::atomic<long long>> clock_;
  std::shared_ptr<store_type> store_;
  std::shared_ptr<log_lines> lines_;
  tollgate::cached_plan_lookup cache_;
#if TOLLGATE_BILLING_ON_BEAST
  boost::asio::io_context io_{1};
  std::optional<tollgate::beast::server> server_;
#else
  httplib::Server server_;
#endif
  std::thread thread_;
  int port_ = 0;
};

std::string limits_body(const std::string& tenant, const std::string& deployments, const std::string& workers, const std::string& plan) {
  return fmt::format(R"({{"tenant_id":"{}","limits":{{"deployments":{},"self_hosted_workers":{},"plan_type":"{}"}}}})", tenant, deployments,
                     workers, plan);
}
const std::string org1_free = limits_body("org-1", "1", "5", "free");

// One provider's wire format: where to post, how its event reads, how it signs (python3's hmac, per its docs).
struct provider {
  std::string name;
  std::string path;
  std::string secret;
  // event id, tenant, plan, extra metadata members (",\"limit.x\":\"3\"" ...), creation time
  std::function<std::string(const std::string&, const std::string&, const std::string&, const std::string&, long long)> event;
  std::function<httplib::Headers(const std::string& body, long long signed_at, const std::string& secret)> sign;
};

std::string iso8601(long long seconds) {
  const std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf) + ".000";  // Orb's form: milliseconds, no zone (UTC)
}

provider stripe() {
  return {"stripe", "/billing/webhooks/stripe", stripe_secret,
          [](const std::string& id, const std::string& tenant, const std::string& plan, const std::string& extra, long long created) {
            return fmt::format(
                R"({{"id":"{}","object":"event","api_version":"2024-06-20","created":{},"type":"customer.subscription.updated",)"
                R"("data":{{"object":{{"id":"sub_1","object":"subscription","customer":"cus_1","metadata":{{"tenant_id":"{}","plan":"{}"{}}}}}}}}})",
                id, created, tenant, plan, extra);
          },
          [](const std::string& body, long long t, const std::string& secret) {
            const std::string sig = python_hmac_sha256_hex(secret, std::to_string(t) + "." + body);
            return httplib::Headers{{"Stripe-Signature", fmt::format("t={},v1={}", t, sig)}};
          }};
}

provider orb() {
  return {"orb", "/billing/webhooks/orb", orb_secret,
          [](const std::string& id, const std::string& tenant, const std::string& plan, const std::string& extra, long long created) {
            return fmt::format(
                R"({{"id":"{}","created_at":"{}","type":"subscription.plan_changed","subscription":{{"id":"sub_o",)"
                R"("customer":{{"id":"cus_o","external_customer_id":"{}"}},"plan":{{"id":"plan_o","external_plan_id":"{}"}},)"
                R"("metadata":{{"note":"x"{}}}}},"properties":{{"previous_plan_id":"plan_free"}}}})",
                id, iso8601(created), tenant, plan, extra);
          },
          [](const std::string& body, long long t, const std::string& secret) {
            const std::string stamp = iso8601(t);
            const std::string sig = python_hmac_sha256_hex(secret, "v1:" + stamp + ":" + body);
            return httplib::Headers{{"X-Orb-Timestamp", stamp}, {"X-Orb-Signature", "v1=" + sig}};
          }};
}

void check_reply(const httplib::Result& res, int status, const std::string& detail_part) {
  REQUIRE(res);
  CHECK(res->status == status);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  const auto body = json::parse(res->body, nullptr, false);
  REQUIRE_MESSAGE(body.is_object(), res->body);
  REQUIRE_MESSAGE(body.contains("detail"), res->body);
  CHECK_MESSAGE(body["detail"].get<std::string>().find(detail_part) != std::string::npos, res->body);
}
}  // namespace

TEST_CASE("plan webhook http: a signed event switches the tenant's plan and GET /billing/limits shows it at once") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    CHECK(f.limits("org-1") == org1_free);  // warms the cache (TTL 1 h)
    const std::string body = p.event("evt_up_1", "org-1", "growth", R"(,"limit.deployments":"8")", t0);
    const auto res = f.post(p.path, body, p.sign(body, t0, p.secret));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == R"({"status":"applied","event_id":"evt_up_1","tenant_id":"org-1","plan_type":"growth"})");
    CHECK(f.limits("org-1") == limits_body("org-1", "8", "null", "growth"));
    CHECK(f.limits("org-2") == limits_body("org-2", "1", "5", "free"));  // other tenants untouched

    // A later change without custom limits drops the override; "unlimited" is accepted as a value.
    const std::string next = p.event("evt_up_2", "org-1", "enterprise", R"(,"limit.self_hosted_workers":"unlimited")", t0 + 1);
    REQUIRE(f.post(p.path, next, p.sign(next, t0, p.secret))->status == 200);
    CHECK(f.limits("org-1") == limits_body("org-1", "null", "null", "enterprise"));
    // A new tenant appears in the store.
    const std::string fresh = p.event("evt_up_3", "org-new", "growth", "", t0);
    REQUIRE(f.post(p.path, fresh, p.sign(fresh, t0, p.secret))->status == 200);
    CHECK(f.limits("org-new") == limits_body("org-new", "5", "null", "growth"));
    CHECK(f.log_text().find(p.secret) == std::string::npos);
  }
}

TEST_CASE("plan webhook http: every refusal answers 4xx with a detail and leaves the limits unchanged") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    CHECK(f.limits("org-1") == org1_free);
    const std::string good = p.event("evt_r_1", "org-1", "growth", "", t0);
    const auto unchanged = [&] { CHECK(f.limits("org-1") == org1_free); };

    SUBCASE("a wrong signature: the wrong secret") {
      check_reply(f.post(p.path, good, p.sign(good, t0, "not-the-secret")), 400, "signature");
      unchanged();
    }
    SUBCASE("a body changed after signing") {
      const std::string tampered = p.event("evt_r_1", "org-1", "enterprise", "", t0);
      check_reply(f.post(p.path, tampered, p.sign(good, t0, p.secret)), 400, "signature");
      unchanged();
    }
    SUBCASE("no signature headers") {
      check_reply(f.post(p.path, good, {}), 400, "Missing");
      unchanged();
    }
    SUBCASE("a stale timestamp, rightly signed") {
      f.set_clock(t0 + 301);
      check_reply(f.post(p.path, good, p.sign(good, t0, p.secret)), 400, p.name == "stripe" ? "tolerance" : "too old");
      unchanged();
      f.set_clock(t0 - 301);  // and one from the future
      check_reply(f.post(p.path, good, p.sign(good, t0, p.secret)), 400, p.name == "stripe" ? "tolerance" : "too new");
      unchanged();
    }
    SUBCASE("an unknown plan") {
      const std::string body = p.event("evt_r_2", "org-1", "platinum", "", t0);
      check_reply(f.post(p.path, body, p.sign(body, t0, p.secret)), 422, "unknown plan 'platinum'");
      unchanged();
    }
    SUBCASE("an unknown limit name or a bad limit value") {
      const std::string name = p.event("evt_r_3", "org-1", "growth", R"(,"limit.seats":"3")", t0);
      check_reply(f.post(p.path, name, p.sign(name, t0, p.secret)), 422, "unknown limit 'seats'");
      const std::string value = p.event("evt_r_4", "org-1", "growth", R"(,"limit.deployments":"-3")", t0);
      check_reply(f.post(p.path, value, p.sign(value, t0, p.secret)), 422, "non-negative integer");
      unchanged();
    }
    SUBCASE("a malformed body, rightly signed") {
      for (const std::string& body : {std::string("{not json"), std::string("[1,2]"), std::string(R"({"type":"x"})")}) {
        CAPTURE(body);
        check_reply(f.post(p.path, body, p.sign(body, t0, p.secret)), 400, "Malformed");
      }
      unchanged();
    }
    SUBCASE("deeply nested JSON, rightly signed, is refused without a crash") {
      const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
      check_reply(f.post(p.path, deep, p.sign(deep, t0, p.secret)), 400, "Malformed");
      unchanged();
    }
    SUBCASE("a subscription event without a tenant") {
      const std::string body = p.event("evt_r_5", "", "growth", "", t0);
      check_reply(f.post(p.path, body, p.sign(body, t0, p.secret)), 422, "without");
      unchanged();
    }
    SUBCASE("a body over the size bound is refused before any HMAC") {
      const std::string big(300 * 1024, ' ');
      check_reply(f.post(p.path, big, {}), 413, "too large");
      unchanged();
    }
    SUBCASE("other methods") {
      const auto res = f.client().Get(p.path.c_str());
      check_reply(res, 405, "Method Not Allowed");
      CHECK(res->get_header_value("Allow") == "POST");
      unchanged();
    }
    CHECK(f.log_text().find(p.secret) == std::string::npos);
  }
}

TEST_CASE("plan webhook http: a replayed event id is acknowledged 200 and changes nothing") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    const std::string first = p.event("evt_dup", "org-1", "growth", "", t0);
    const auto headers = p.sign(first, t0, p.secret);
    REQUIRE(f.post(p.path, first, headers)->status == 200);
    const std::string second = p.event("evt_next", "org-1", "enterprise", "", t0 + 5);
    REQUIRE(f.post(p.path, second, p.sign(second, t0, p.secret))->status == 200);
    const std::string now_enterprise = limits_body("org-1", "null", "null", "enterprise");
    CHECK(f.limits("org-1") == now_enterprise);

    // The captured first delivery, byte for byte, within the tolerance: not re-applied.
    f.set_clock(t0 + 200);
    const auto replay = f.post(p.path, first, headers);
    REQUIRE(replay);
    CHECK(replay->status == 200);
    CHECK(replay->body == R"({"status":"duplicate","event_id":"evt_dup","detail":"Event already processed"})");
    CHECK(f.limits("org-1") == now_enterprise);
    // The provider's own retry: same event id, new timestamp and signature. Still a duplicate.
    const auto retry = f.post(p.path, first, p.sign(first, t0 + 200, p.secret));
    REQUIRE(retry);
    CHECK(retry->status == 200);
    CHECK(retry->body.find("duplicate") != std::string::npos);
    CHECK(f.limits("org-1") == now_enterprise);
  }
}

TEST_CASE("plan webhook http: an event older than the last applied one is acknowledged and ignored") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    const std::string newer = p.event("evt_new", "org-1", "enterprise", "", t0 + 60);
    REQUIRE(f.post(p.path, newer, p.sign(newer, t0, p.secret))->status == 200);
    const std::string older = p.event("evt_old", "org-1", "growth", "", t0 - 60);  // delivered late
    const auto res = f.post(p.path, older, p.sign(older, t0, p.secret));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find(R"("status":"outdated")") != std::string::npos);
    CHECK(f.limits("org-1") == limits_body("org-1", "null", "null", "enterprise"));
  }
}

TEST_CASE("plan webhook http: other event types are acknowledged and change nothing") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    const std::string body = R"({"id":"evt_inv","type":"invoice.paid","created":1765000000,"data":{"object":{}}})";
    const auto res = f.post(p.path, body, p.sign(body, t0, p.secret));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == R"({"status":"ignored","event_id":"evt_inv","detail":"Event type 'invoice.paid' changes no plan"})");
    CHECK(f.limits("org-1") == org1_free);
  }
}

TEST_CASE("plan webhook http: the raw body is verified byte for byte (UTF-8, CRLF, odd spacing)") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    std::string body = p.event("evt_raw", "org-\xc3\xbc", "growth", ",\r\n  \"limit.deployments\" :\t\"2\"", t0);
    const auto res = f.post(p.path, body, p.sign(body, t0, p.secret));
    REQUIRE(res);
    CHECK_MESSAGE(res->status == 200, res->body);
    CHECK(f.store().plan_of("org-\xc3\xbc") == "growth");
  }
}

TEST_CASE("plan webhook http: no secret configured answers 500 and changes nothing") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f{/*with_secrets=*/false};
    const std::string body = p.event("evt_ns", "org-1", "growth", "", t0);
    check_reply(f.post(p.path, body, p.sign(body, t0, "")), 500, "no webhook secret configured");
    CHECK(f.limits("org-1") == org1_free);
    CHECK(f.log_text().find("no signing secret configured") != std::string::npos);
  }
}

TEST_CASE("plan webhook http: concurrent deliveries of one event apply it once") {
  for (const auto& p : {stripe(), orb()}) {
    CAPTURE(p.name);
    fixture f;
    const std::string body = p.event("evt_race", "org-1", "growth", "", t0);
    const auto headers = p.sign(body, t0, p.secret);
    std::atomic<int> applied{0};
    std::atomic<int> duplicate{0};
    std::vector<std::thread> senders;
    for (int i = 0; i < 4; ++i)
      senders.emplace_back([&] {
        const auto res = f.post(p.path, body, headers);
        if (res && res->status == 200 && res->body.find("applied") != std::string::npos) ++applied;
        if (res && res->status == 200 && res->body.find("duplicate") != std::string::npos) ++duplicate;
      });
    for (auto& s : senders) s.join();
    CHECK(applied.load() == 1);
    CHECK(duplicate.load() == 3);
    CHECK(f.limits("org-1") == limits_body("org-1", "5", "null", "growth"));
  }
}
