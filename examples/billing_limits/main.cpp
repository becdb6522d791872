// Example: serves GET /billing/limits (and GET /health) on 127.0.0.1 with tollgate's plan limits.
// Plan-change webhooks: with STRIPE_WEBHOOK_SECRET (ORB_WEBHOOK_SECRET) set, POST /billing/webhooks/stripe
// (/orb) takes signed subscription events and changes the tenant's plan for GET /billing/limits at once.
// Usage tracking: GET /billing/usage, and demo POST /deployments, DELETE /deployments/{id} counted
// against the tenant's plan (the free plan allows 1 deployment: the 2nd create is refused 403).
//
//   tollgate_billing_limits --port 8081 --secret "$BILLING_JWT_SECRET"
//   tollgate_billing_limits --port 0 --disable-auth          # any free port, no authentication
//   tollgate_billing_limits --secret s3cret --print-token    # prints a valid token and exits
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <pthread.h>
#include <string>
#include <string_view>
#include <thread>

#include <map>
#include <mutex>
#include <set>

#include <httplib.h>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/billing/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/plan_webhook.hpp>
#include <tollgate/billing/usage_endpoint.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/usage/limited.hpp>
#include <tollgate/usage/memory_usage_store.hpp>
#include <tollgate/jwt/bearer.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/jwt/verifier.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metrics/httplib.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>
#include <tollgate/plans/plan_from_header.hpp>
#include <tollgate/plans/plan_store.hpp>

namespace {

struct arguments {
  int port = 8081;
  std::optional<std::string> secret;
  bool disable_auth = false;
  bool print_token = false;
};

void usage(std::FILE* out) {
  std::fputs(
      "usage: tollgate_billing_limits [--port N] [--secret S] [--disable-auth] [--print-token]\n"
      "  --port N        port on 127.0.0.1 (0: any free port); default 8081\n"
      "  --secret S      HS256 secret shared with callers; default: $BILLING_JWT_SECRET\n"
      "  --disable-auth  serve without authentication (explicit; a missing secret never does this)\n"
      "  --print-token   print a valid token for the secret (1 hour) and exit\n"
      "Webhooks: $STRIPE_WEBHOOK_SECRET turns on POST /billing/webhooks/stripe, $ORB_WEBHOOK_SECRET\n"
      "  POST /billing/webhooks/orb: signed subscription events set tenants' plans (see README).\n"
      "The first line on stdout is `listening on 127.0.0.1:PORT`.\n",
      out);
}

std::optional<arguments> parse(int argc, char** argv) {
  arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--port") {
      const auto v = value();
      if (!v) return std::nullopt;
      char* end = nullptr;
      const long port = std::strtol(v->c_str(), &end, 10);
      if (end == v->c_str() || *end != '\0' || port < 0 || port > 65535) return std::nullopt;
      args.port = static_cast<int>(port);
    } else if (arg == "--secret") {
      args.secret = value();
      if (!args.secret) return std::nullopt;
    } else if (arg == "--disable-auth") {
      args.disable_auth = true;
    } else if (arg == "--print-token") {
      args.print_token = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else {
      return std::nullopt;
    }
  }
  if (!args.secret) {
    if (const char* env = std::getenv("BILLING_JWT_SECRET")) args.secret = std::string(env);
  }
  return args;
}

// A tenant's plan from the plan store that the webhooks write (through a cache they invalidate);
// tenants the store does not know fall back to the contract's `x-plan-type` header.
struct store_then_header {
  tollgate::cached_plan_lookup stored;
  tollgate::plan_from_header<"x-plan-type"> header{};

  [[nodiscard]] tollgate::plan_resolution resolve(const tollgate::request_ref& request, std::optional<std::string_view> tenant) const {
    auto found = stored.resolve(request, tenant);
    if (found.outcome == tollgate::plan_resolution::kind::unknown_tenant) return header.resolve(request, tenant);
    return found;
  }
};

// Mounts one provider's webhook when its secret is in the environment; says which, never the secret.
template <class Webhook>
void mount_webhook(httplib::Server& server, const char* env, const std::string& path, const tollgate::logger& log,
                   const std::shared_ptr<tollgate::plan_store<tollgate::default_plans>>& store, const tollgate::cached_plan_lookup& cache) {
  const char* value = std::getenv(env);
  if (value == nullptr || *value == '\0') {
    log.info("plan webhook: POST {} off ({} is not set)", path, env);
    return;
  }
  auto options = tollgate::billing::webhook_options::with_secret(tollgate::redacted{value}).with_logger(log);
  tollgate::billing::mount(server, std::make_shared<const Webhook>(std::move(options), store, cache), path);
  log.info("plan webhook: POST {} on (secret from {})", path, env);
}

// --- usage tracking: GET /billing/usage and demo deployments counted against the plan ----------
// Deployments live in memory; a real service keeps them in its database. `limited` does the
// counting: the handlers below only create and delete.
struct deployments_demo {
  deployments_demo(const store_then_header& lookup, std::shared_ptr<const tollgate::tenant_overrides<tollgate::default_plans>> custom)
      : resolver(lookup), overrides(std::move(custom)), plans(resolver, overrides) {}
  tollgate::memory_usage_store store;
  // The same plan lookup as /billing/limits: the plan store the webhooks write (so a plan change
  // applies to the next create at once), else the x-plan-type header. The header is a demo only:
  // the caller controls it; a real service resolves every plan server-side.
  store_then_header resolver;
  std::shared_ptr<const tollgate::tenant_overrides<tollgate::default_plans>> overrides;
  tollgate::tenant_limits<tollgate::default_plans, store_then_header> plans;
  std::mutex mutex;
  std::map<std::string, std::set<std::string>, std::less<>> by_tenant;
  long next_id = 0;
};

// The demo endpoints take the same bearer token as /billing/* (unless --disable-auth).
template <class Handler>
httplib::Server::Handler authenticated(std::shared_ptr<const tollgate::jwt::verifier> verifier, Handler handler) {
  return [verifier = std::move(verifier), handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    if (verifier) {
      const std::string header = req.get_header_value("Authorization");
      const auto token = tollgate::jwt::bearer_token(header);
      if (!token || !verifier->verify(*token)) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(R"({"detail":"A valid bearer token is required"})", "application/json");
        return;
      }
    }
    handler(req, res);
  };
}

void mount_usage_demo(httplib::Server& server, deployments_demo& demo, tollgate::billing::endpoint_options options,
                      tollgate::metrics::registry& metrics) {
  using tenant = tollgate::from_header<"tenant-id">;
  tollgate::limited_config config;
  config.log = options.log;
  config.metrics = &metrics;  // each create's limit check: tollgate_plan_limit_checks_total
  std::shared_ptr<const tollgate::jwt::verifier> verifier;
  if (!options.disable_auth) verifier = std::make_shared<const tollgate::jwt::verifier>(options.secret, options.jwt);
  tollgate::billing::mount_usage(server, std::make_shared<const tollgate::billing::usage_endpoint<tollgate::default_plans, store_then_header>>(
                                             demo.store, std::move(options), demo.resolver, demo.overrides));
  server.Post("/deployments", authenticated(verifier, tollgate::limited<"deployments", tenant>{demo.store, demo.plans,
      [&demo](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(demo.mutex);
        const std::string id = "dep-" + std::to_string(++demo.next_id);
        demo.by_tenant[req.get_header_value("tenant-id")].insert(id);
        res.status = 201;
        res.set_content("{\"id\":\"" + id + "\"}", "application/json");
      }, config}));
  server.Delete(R"(/deployments/([A-Za-z0-9-]+))", authenticated(verifier, tollgate::limited<"deployments", tenant, tollgate::releases>{demo.store, demo.plans,
      [&demo](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(demo.mutex);
        auto it = demo.by_tenant.find(req.get_header_value("tenant-id"));
        if (it == demo.by_tenant.end() || it->second.erase(req.matches[1].str()) == 0) {
          res.status = 404;
          res.set_content(R"({"detail":"Deployment not found"})", "application/json");
          return;
        }
        res.status = 204;
      }, config}));
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse(argc, argv);
  if (!args) {
    usage(stderr);
    return 2;
  }
  const tollgate::redacted secret{args->secret.value_or("")};
  tollgate::logger log{tollgate::log_level::info};

  if (args->print_token) {
    if (secret.empty()) {
      std::fputs("--print-token needs --secret or BILLING_JWT_SECRET\n", stderr);
      return 2;
    }
    const auto now = static_cast<long long>(std::time(nullptr));
    std::cout << tollgate::jwt::sign_hs256({{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}, secret)
              << std::endl;
    return 0;
  }

  // Block the stop signals before any thread starts, so only the waiter below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto options = args->disable_auth ? tollgate::billing::endpoint_options::auth_disabled()
                                    : tollgate::billing::endpoint_options::with_secret(secret);
  // Only that a secret is set and its length: even a fingerprint would let a log reader test guesses.
  if (!args->disable_auth && !secret.empty()) log.info("billing limits: HS256 secret configured ({} bytes)", secret.reveal().size());
  tollgate::metrics::registry metrics;  // GET /metrics: answers, plan lookups and cache, JWT refusals by reason
  // Plans and custom limits set by webhooks live in the store; the cache in front of it is invalidated per tenant on each change.
  auto plans = std::make_shared<tollgate::plan_store<tollgate::default_plans>>();
  const tollgate::cached_plan_lookup plan_cache{[plans](std::string_view tenant) { return plans->plan_of(tenant); }};
  plan_cache.export_metrics(metrics);
  auto endpoint = std::make_shared<const tollgate::billing::limits_endpoint<tollgate::default_plans, store_then_header>>(
      std::move(options).with_logger(log).with_metrics(metrics), store_then_header{plan_cache}, plans->overrides());

  httplib::Server server;
  tollgate::tune(server);  // TCP_NODELAY, long keep-alive, backlog 1024, a worker per connection
  tollgate::billing::mount(server, endpoint);
  mount_webhook<tollgate::billing::stripe_plan_webhook<>>(server, "STRIPE_WEBHOOK_SECRET", "/billing/webhooks/stripe", log, plans, plan_cache);
  mount_webhook<tollgate::billing::orb_plan_webhook<>>(server, "ORB_WEBHOOK_SECRET", "/billing/webhooks/orb", log, plans, plan_cache);
  deployments_demo demo{store_then_header{plan_cache}, plans->overrides()};
  mount_usage_demo(server, demo, args->disable_auth ? tollgate::billing::endpoint_options::auth_disabled().with_logger(log)
                                                    : tollgate::billing::endpoint_options::with_secret(secret).with_logger(log),
                   metrics);
  tollgate::metrics::mount(server, metrics);
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });

  const int port = args->port == 0 ? server.bind_to_any_port("127.0.0.1") : (server.bind_to_port("127.0.0.1", args->port) ? args->port : -1);
  if (port < 0) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", args->port);
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << port << std::endl;  // flushed: tests and scripts read it

  std::thread stopper([&server, stop_signals] {
    int received = 0;
    sigwait(&stop_signals, &received);
    server.stop();
  });
  const bool ok = server.listen_after_bind();
  if (!ok) {
    // listen ended without a signal: wake the waiter so it can be joined.
    pthread_kill(stopper.native_handle(), SIGTERM);
  }
  stopper.join();
  return ok ? 0 : 1;
}
