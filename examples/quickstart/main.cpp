// The quickstart: the Python seed's example app, metered by tollgate.
//
//   tollgate_quickstart [--port N] [--outbox FILE] [--redis URL]
//   (0 = any free port; prints "listening on 127.0.0.1:PORT" first)
//
// By default it runs on the in-process ledger with test-user-1..3 at 100 credits. With
// `--redis redis://host:port` (or REDIS_URL) it uses the Redis ledger, shared by every quickstart
// pointed at that Redis; test-user-1..3 are created with 100 credits only if they do not exist yet.
// With CREDIT_SERVICE_URL set it uses that credit service instead (CREDIT_API_TOKEN, CREDIT_TIMEOUT),
// sending the X-User-ID value as the lock's credential. On Redis and on the credit service, failed
// settlements are kept in an outbox (`--outbox FILE` makes it survive a restart).
// GET /metrics serves Prometheus metrics (README "Metrics").
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/metrics/httplib.hpp>
#if TOLLGATE_QUICKSTART_WITH_REDIS
#include <tollgate/ledgers/redis_ledger.hpp>
#endif
#include <tollgate/tollgate.hpp>

namespace {

using namespace tollgate::literals;
using json = nlohmann::json;
using user_id = tollgate::from_header<"X-User-ID">;

httplib::Server* running_server = nullptr;

void on_signal(int) {
  if (running_server != nullptr) running_server->stop();
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// The seed's custom calculator: 1.0 base + 0.05 per KB + 1.0 per second + 0.5 when the answer is an error.
struct advanced_cost {
  tollgate::credits operator()(const tollgate::request_ref&, const tollgate::response_ref& res,
                               const tollgate::metering_context& ctx) const {
    return 1_cr + (0.05_cr).scaled(static_cast<std::int64_t>(ctx.response_bytes()), 1024) +
           (1_cr).scaled(ctx.elapsed().count(), 1'000'000'000) + (res.status() >= 400 ? 0.5_cr : 0_cr);
  }
};

// Reads ?duration= (seconds, 0 to 5); nullopt when it is not a number in range.
std::optional<double> duration_param(const httplib::Request& req) {
  if (!req.has_param("duration")) return 0.0;
  try {
    std::size_t used = 0;
    const std::string text = req.get_param_value("duration");
    const double d = std::stod(text, &used);
    if (used != text.size() || !(d >= 0.0 && d <= 5.0)) return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The available balance of a user, from whichever ledger is in use.
using balance_lookup = std::function<tollgate::result<tollgate::credits>(const std::string&)>;

void register_routes(httplib::Server& svr, tollgate::ledger_ref ledger, balance_lookup balance_of,
                     tollgate::metrics::registry& metrics) {
  // Debug level shows every lock and settlement; ids print as «redacted:…» fingerprints. Each
  // route reports to `metrics` under its own route label.
  const auto config = [&metrics](std::string route) {
    return tollgate::metered_config{tollgate::logger(tollgate::log_level::debug), {}, &metrics, std::move(route)};
  };

  svr.Get("/api/simple",
          tollgate::metered<user_id, tollgate::estimate<1.0_cr>, tollgate::fixed_cost<1.0_cr>>{
              ledger, [](const httplib::Request&, httplib::Response& res) {
                reply(res, 200, {{"message", "Fixed cost endpoint"}});
              }, config("/api/simple")});

  svr.Post("/api/data",
           tollgate::metered<user_id, tollgate::estimate<5.0_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>>{
               ledger, [](const httplib::Request& req, httplib::Response& res, tollgate::metering_context& ctx) {
                 const auto body = json::parse(req.body, nullptr, false);
                 if (!body.is_object() || !body.contains("size") || !body["size"].is_number_unsigned() ||
                     body["size"].get<std::uint64_t>() > 10'000'000) {
                   ctx.waive();  // a request we cannot serve costs nothing
                   return reply(res, 400, {{"detail", "body must be {\"size\": n} with 0 <= n <= 10000000"}});
                 }
                 reply(res, 200, {{"data", std::string(body["size"].get<std::size_t>(), 'x')}});
               }, config("/api/data")});

  svr.Post("/api/process",
           tollgate::metered<user_id, tollgate::estimate<10.0_cr>, tollgate::by_processing_time<1.0_cr, 2.0_cr>>{
               ledger, [](const httplib::Request& req, httplib::Response& res, tollgate::metering_context& ctx) {
                 const auto duration = duration_param(req);
                 if (!duration) {
                   ctx.waive();
                   return reply(res, 400, {{"detail", "duration must be a number of seconds from 0 to 5"}});
                 }
                 std::this_thread::sleep_for(std::chrono::duration<double>(*duration));
                 reply(res, 200, {{"result", "done"}, {"duration", *duration}});
               }, config("/api/process")});

  svr.Post("/api/advanced",
           tollgate::metered<user_id, tollgate::estimate<15.0_cr>, advanced_cost>{
               ledger, [](const httplib::Request& req, httplib::Response& res) {
                 const auto duration = duration_param(req);
                 if (!duration || req.has_param("fail")) return reply(res, 400, {{"detail", "processing failed"}});
                 std::this_thread::sleep_for(std::chrono::duration<double>(*duration));
                 reply(res, 200, {{"result", "processed"}});
               }, config("/api/advanced")});

  // An LLM-style stream priced per token, as a production API prices it: 0.15 credits per million
  // prompt tokens, 0.45 per million completion tokens. Tokens are reported as they are delivered,
  // so a client that hangs up pays for what it received.
  svr.Get("/api/stream",
          tollgate::metered<user_id, tollgate::estimate<0.5_cr>, tollgate::per_token<0.15_cr, 0.45_cr>>{
              ledger, [](const httplib::Request& req, httplib::Response& res, tollgate::metering_context& ctx) {
                int tokens = 20;
                if (req.has_param("tokens")) tokens = std::atoi(req.get_param_value("tokens").c_str());
                if (tokens < 1 || tokens > 10'000) {
                  ctx.waive();
                  return reply(res, 400, {{"detail", "tokens must be 1..10000"}});
                }
                ctx.report_usage({.prompt_tokens = 12});  // the prompt, counted up front
                auto sent = std::make_shared<int>(0);
                // The context outlives the handler until the stream ends, so the provider may use it.
                res.set_chunked_content_provider("text/plain", [&ctx, tokens, sent](std::size_t, httplib::DataSink& sink) {
                  if (*sent == tokens) {
                    sink.done();
                    return true;
                  }
                  const std::string token = fmt::format("token{} ", *sent);
                  if (!sink.write(token.data(), token.size())) return false;
                  ctx.report_usage({.completion_tokens = 1});
                  ++*sent;
                  std::this_thread::sleep_for(std::chrono::milliseconds(10));
                  return true;
                });
              }, config("/api/stream")});

  // Not metered: lets the walkthrough and the tests see the available balance.
  svr.Get("/api/test/balance", [balance_of](const httplib::Request& req, httplib::Response& res) {
    const std::string user = req.get_param_value("user_id");
    if (user.empty()) return reply(res, 400, {{"detail", "user_id query parameter required"}});
    const auto balance = balance_of(user);
    if (!balance) {
      if (balance.error().code == tollgate::ledger_errc::unknown_credential) return reply(res, 404, {{"detail", "User not found"}});
      return reply(res, 503, {{"detail", "Credit service unavailable: " + balance.error().message}});
    }
    reply(res, 200, {{"user_id", user}, {"balance", *balance}});
  });

  svr.Get("/health", [](const httplib::Request&, httplib::Response& res) { reply(res, 200, {{"status", "ok"}}); });
  tollgate::metrics::mount(svr, metrics);  // GET /metrics, the Prometheus text format
}

struct arguments {
  int port = 8080;
  std::optional<std::string> outbox;
  std::optional<std::string> redis_url;
};

arguments parse_arguments(int argc, char** argv) {
  arguments args;
  int& port = args.port;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (arg == "--outbox" && i + 1 < argc) {
      args.outbox = argv[++i];
    } else if (arg == "--redis" && i + 1 < argc) {
      args.redis_url = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      fmt::print("usage: {} [--port N] [--outbox FILE] [--redis redis://host:port]\n"
                 "  --port 0 picks a free port; the outbox keeps settlements owed to Redis or CREDIT_SERVICE_URL\n", argv[0]);
      std::exit(0);
    } else {
      fmt::print(stderr, "unknown argument: {}\n", arg);
      std::exit(2);
    }
  }
  if (port < 0 || port > 65535) {
    fmt::print(stderr, "--port must be 0..65535\n");
    std::exit(2);
  }
  if (!args.redis_url) {
    if (const char* url = std::getenv("REDIS_URL"); url != nullptr && *url != '\0') args.redis_url = url;
  }
  return args;
}

int serve(httplib::Server& svr, int requested_port) {
  const int port = requested_port == 0 ? svr.bind_to_any_port("127.0.0.1") : (svr.bind_to_port("127.0.0.1", requested_port) ? requested_port : -1);
  if (port < 0) {
    fmt::print(stderr, "cannot listen on 127.0.0.1:{}\n", requested_port);
    return 1;
  }
  running_server = &svr;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  svr.listen_after_bind();
  return 0;
}

// Every quickstart on one Redis spends the same balances. Settles that meet an outage wait in
// the outbox and land when Redis is back.
int serve_on_redis([[maybe_unused]] httplib::Server& svr, [[maybe_unused]] const arguments& args,
                   [[maybe_unused]] tollgate::metrics::registry& metrics) {
#if TOLLGATE_QUICKSTART_WITH_REDIS
  std::optional<tollgate::redis_ledger> redis;
  try {
    auto options = tollgate::redis_ledger_options::from_environment();
    options.url = *args.redis_url;
    redis.emplace(std::move(options));
  } catch (const std::exception& e) {
    fmt::print(stderr, "configuration error: {}\n", e.what());
    return 2;
  }
  for (const char* user : {"test-user-1", "test-user-2", "test-user-3"}) {
    auto added = redis->add_user(user, 100_cr);  // only if absent: other quickstarts may share this Redis
    if (added) added = redis->add_credential(user, user);
    if (!added) {
      fmt::print(stderr, "cannot set up the demo users on Redis at {}: {}\n", redis->client().seed().address(), added.error().message);
      return 1;
    }
  }
  tollgate::durable_ledger_options outbox;
  outbox.journal_path = args.outbox;
  tollgate::durable_ledger ledger(*redis, outbox);
  tollgate::metrics::watch_outbox(metrics, ledger);
  register_routes(svr, ledger, [&](const std::string& user) { return redis->balance(user); }, metrics);
  fmt::print(stderr, "quickstart: using the Redis ledger at {}\n", redis->client().seed().address());
  return serve(svr, args.port);
#else
  fmt::print(stderr, "this quickstart was built without hiredis: --redis is not available\n");
  return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  tollgate::metrics::registry metrics;  // first: it outlives the ledgers its gauges read
  httplib::Server svr;
  tollgate::tune(svr);  // TCP_NODELAY, long keep-alive, backlog 1024, a worker per connection
  if (args.redis_url) return serve_on_redis(svr, args, metrics);

  if (const char* url = std::getenv("CREDIT_SERVICE_URL"); url != nullptr && *url != '\0') {
    std::optional<tollgate::credit_service_ledger> service;
    try {
      service.emplace(tollgate::credit_service_ledger_options::from_environment());
    } catch (const tollgate::configuration_error& e) {
      fmt::print(stderr, "configuration error: {}\n", e.what());
      return 2;
    }
    tollgate::durable_ledger_options outbox;
    outbox.journal_path = args.outbox;
    tollgate::durable_ledger ledger(*service, outbox);
    tollgate::metrics::watch_outbox(metrics, ledger);
    tollgate::metrics::watch_circuit(metrics, *service);
    register_routes(svr, ledger, [&](const std::string& user) { return service->balance(user); }, metrics);
    fmt::print(stderr, "quickstart: using the credit service at {}\n", service->options().base_url);
    return serve(svr, args.port);  // on SIGTERM the durable ledger flushes or journals what is owed
  }

  tollgate::memory_ledger ledger;
  for (const char* user : {"test-user-1", "test-user-2", "test-user-3"}) {
    ledger.add_user(user, 100_cr);
    ledger.add_credential(user, user);  // the demo's X-User-ID is the credential
  }
  register_routes(svr, ledger, [&](const std::string& user) -> tollgate::result<tollgate::credits> {
    if (auto b = ledger.balance(user)) return *b;
    return tollgate::ledger_error{tollgate::ledger_errc::unknown_credential, "user not found"};
  }, metrics);
  return serve(svr, args.port);
}
