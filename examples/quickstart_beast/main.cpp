// The quickstart on Boost.Beast: the same endpoints, prices and flags as examples/quickstart, served
// by an asynchronous server whose loop never waits for the ledger.
//
//   tollgate_quickstart_beast [--port N] [--threads N] [--outbox FILE] [--redis URL]
//   (0 = any free port; prints "listening on 127.0.0.1:PORT" first)
//
// Ledgers as in the httplib quickstart: the in-process one by default (test-user-1..3 at 100
// credits, answered inline on the loop); CREDIT_SERVICE_URL: the credit service through Beast's
// client on the same loop, behind an outbox; `--redis URL` (or REDIS_URL): asio::redis_ledger
// behind an outbox, hiredis's async API on this loop. No thread waits on the network for the
// loop. `--threads` is the number of loop threads (default 1).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/adapters/beast/credit_transport.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/durable_ledger.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/metrics/beast.hpp>
#if TOLLGATE_QUICKSTART_WITH_REDIS
#include <tollgate/adapters/asio/redis_ledger.hpp>
#endif
#include <tollgate/tollgate.hpp>

namespace {

using namespace tollgate::literals;
using json = nlohmann::json;
using user_id = tollgate::from_header<"X-User-ID">;
using tollgate::beast::request;
using tollgate::beast::response;

void reply(response& res, int status, const json& body) {
  res.result(static_cast<unsigned>(status));
  res.set(boost::beast::http::field::content_type, "application/json");
  res.body() = body.dump();
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
std::optional<double> duration_param(const request& req) {
  const auto text = req.query("duration");
  if (!text) return 0.0;
  try {
    std::size_t used = 0;
    const std::string value(*text);
    const double d = std::stod(value, &used);
    if (used != value.size() || !(d >= 0.0 && d <= 5.0)) return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// GET /api/test/balance's answer, from the connection's executor.
void answer_balance(response& res, const std::string& user, const tollgate::result<tollgate::credits>& balance) {
  if (balance) return reply(res, 200, {{"user_id", user}, {"balance", *balance}});
  if (balance.error().code == tollgate::ledger_errc::unknown_credential) return reply(res, 404, {{"detail", "User not found"}});
  reply(res, 503, {{"detail", "Credit service unavailable: " + balance.error().message}});
}

using balance_reply = tollgate::unique_function<void(tollgate::result<tollgate::credits>)>;

// What GET /metrics serves. A function-local static: it outlives every ledger its gauges read.
tollgate::metrics::registry& metrics_registry() {
  static tollgate::metrics::registry registry;
  return registry;
}

// `balance_of` is `result<credits>(const std::string&)` when the lookup is quick (in process), or
// `void(const std::string&, balance_reply)` when it goes over the network and must not hold the loop.
template <class Ledger, class BalanceLookup>
tollgate::beast::router make_routes(Ledger& ledger, BalanceLookup balance_of) {
  // Each route reports to the registry under its own route label.
  const auto config = [](std::string route) {
    return tollgate::metered_config{tollgate::logger(tollgate::log_level::debug), {}, &metrics_registry(), std::move(route)};
  };
  tollgate::beast::router routes;

  routes.get("/api/simple", tollgate::metered<user_id, tollgate::estimate<1.0_cr>, tollgate::fixed_cost<1.0_cr>>{
                                ledger, [](const request&, response& res) { reply(res, 200, {{"message", "Fixed cost endpoint"}}); },
                                config("/api/simple")});

  routes.post("/api/data",
              tollgate::metered<user_id, tollgate::estimate<5.0_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>>{
                  ledger, [](const request& req, response& res, tollgate::metering_context& ctx) {
                    const auto body = json::parse(req.body(), nullptr, false);
                    if (!body.is_object() || !body.contains("size") || !body["size"].is_number_unsigned() ||
                        body["size"].get<std::uint64_t>() > 10'000'000) {
                      ctx.waive();
                      return reply(res, 400, {{"detail", "body must be {\"size\": n} with 0 <= n <= 10000000"}});
                    }
                    reply(res, 200, {{"data", std::string(body["size"].get<std::size_t>(), 'x')}});
                  }, config("/api/data")});

  // The seed simulates processing by sleeping: a handler that works this long holds its loop
  // thread, as CPU-bound work would (run with --threads N to serve others meanwhile).
  routes.post("/api/process",
              tollgate::metered<user_id, tollgate::estimate<10.0_cr>, tollgate::by_processing_time<1.0_cr, 2.0_cr>>{
                  ledger, [](const request& req, response& res, tollgate::metering_context& ctx) {
                    const auto duration = duration_param(req);
                    if (!duration) {
                      ctx.waive();
                      return reply(res, 400, {{"detail", "duration must be a number of seconds from 0 to 5"}});
                    }
                    std::this_thread::sleep_for(std::chrono::duration<double>(*duration));
                    reply(res, 200, {{"result", "done"}, {"duration", *duration}});
                  }, config("/api/process")});

  routes.post("/api/advanced", tollgate::metered<user_id, tollgate::estimate<15.0_cr>, advanced_cost>{
                                   ledger, [](const request& req, response& res) {
                                     const auto duration = duration_param(req);
                                     if (!duration || req.query("fail")) return reply(res, 400, {{"detail", "processing failed"}});
                                     std::this_thread::sleep_for(std::chrono::duration<double>(*duration));
                                     reply(res, 200, {{"result", "processed"}});
                                   }, config("/api/advanced")});

  // Priced per token as they are delivered; a client that hangs up pays for what it received.
  routes.get("/api/stream", tollgate::metered<user_id, tollgate::estimate<0.5_cr>, tollgate::per_token<0.15_cr, 0.45_cr>>{
                                ledger, [](const request& req, response& res, tollgate::metering_context& ctx) {
                                  int tokens = 20;
                                  if (const auto n = req.query("tokens")) tokens = std::atoi(std::string(*n).c_str());
                                  if (tokens < 1 || tokens > 10'000) {
                                    ctx.waive();
                                    return reply(res, 400, {{"detail", "tokens must be 1..10000"}});
                                  }
                                  ctx.report_usage({.prompt_tokens = 12});
                                  // One token per chunk. The source is called again only once the previous
                                  // chunk was written, so that is when its token is counted: a client that
                                  // hangs up is not charged for a token it never got. (The context lives
                                  // until the stream ends.)
                                  res.set_chunked_content("text/plain", [&ctx, tokens, sent = 0](tollgate::beast::chunk_sink& sink) mutable {
                                    if (sent > 0) ctx.report_usage({.completion_tokens = 1});
                                    if (sent == tokens) {
                                      sink.done();
                                      return true;
                                    }
                                    sink.write(fmt::format("token{} ", sent++));
                                    return true;
                                  });
                                }, config("/api/stream")});

  routes.get("/api/test/balance", [balance_of](const request& req, response& res, const boost::asio::any_io_executor& executor,
                                               tollgate::unique_task done) mutable {
    const auto user = req.query("user_id");
    if (!user || user->empty()) {
      reply(res, 400, {{"detail", "user_id query parameter required"}});
      return std::move(done)();
    }
    if constexpr (std::is_invocable_v<BalanceLookup&, const std::string&, balance_reply>) {
      // The answer may come on another thread: the response is written from the connection's executor.
      balance_of(std::string(*user), [&res, executor, user = std::string(*user), done = std::move(done)](tollgate::result<tollgate::credits> balance) mutable {
        boost::asio::dispatch(executor, [&res, user = std::move(user), balance = std::move(balance), done = std::move(done)]() mutable {
          answer_balance(res, user, balance);
          std::move(done)();
        });
      });
    } else {
      answer_balance(res, std::string(*user), balance_of(std::string(*user)));
      std::move(done)();
    }
  });

  routes.get("/health", [](const request&, response& res) { reply(res, 200, {{"status", "ok"}}); });
  tollgate::metrics::mount(routes, metrics_registry());  // GET /metrics, the Prometheus text format
  return routes;
}

struct arguments {
  int port = 8080;
  int threads = 1;
  std::optional<std::string> outbox;
  std::optional<std::string> redis_url;
};

arguments parse_arguments(int argc, char** argv) {
  arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      args.port = std::atoi(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      args.threads = std::atoi(argv[++i]);
    } else if (arg == "--outbox" && i + 1 < argc) {
      args.outbox = argv[++i];
    } else if (arg == "--redis" && i + 1 < argc) {
      args.redis_url = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      fmt::print("usage: {} [--port N] [--threads N] [--outbox FILE] [--redis redis://host:port]\n"
                 "  --port 0 picks a free port; --threads: loop threads (default 1)\n", argv[0]);
      std::exit(0);
    } else {
      fmt::print(stderr, "unknown argument: {}\n", arg);
      std::exit(2);
    }
  }
  if (args.port < 0 || args.port > 65535) {
    fmt::print(stderr, "--port must be 0..65535\n");
    std::exit(2);
  }
  if (args.threads < 1 || args.threads > 256) {
    fmt::print(stderr, "--threads must be 1..256\n");
    std::exit(2);
  }
  if (!args.redis_url) {
    if (const char* url = std::getenv("REDIS_URL"); url != nullptr && *url != '\0') args.redis_url = url;
  }
  return args;
}

// Serves until SIGINT or SIGTERM, on `threads` loop threads. `io` was made before the ledgers, so
// it outlives them: a ledger that answers during shutdown still finds it.
int serve(boost::asio::io_context& io, tollgate::beast::router routes, const arguments& args) {
  tollgate::beast::server server(io, std::move(routes));
  std::uint16_t port = 0;
  try {
    port = server.listen("127.0.0.1", static_cast<std::uint16_t>(args.port));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cannot listen on 127.0.0.1:{}: {}\n", args.port, e.what());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  std::vector<std::thread> more;
  for (int i = 1; i < args.threads; ++i) more.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : more) t.join();
  return 0;
}

int serve_on_redis([[maybe_unused]] boost::asio::io_context& io, [[maybe_unused]] const arguments& args) {
#if TOLLGATE_QUICKSTART_WITH_REDIS
  std::optional<tollgate::asio::redis_ledger> redis;  // after io: destroyed once the loop has stopped
  try {
    auto options = tollgate::redis_ledger_options::from_environment();
    options.url = *args.redis_url;
    redis.emplace(io.get_executor(), std::move(options));
  } catch (const std::exception& e) {
    fmt::print(stderr, "configuration error: {}\n", e.what());
    return 2;
  }
  tollgate::redis_ledger& admin = redis->blocking();  // the same Redis and keys, for set-up and /api/test/balance
  for (const char* user : {"test-user-1", "test-user-2", "test-user-3"}) {
    auto added = admin.add_user(user, 100_cr);  // only if absent: other quickstarts may share this Redis
    if (added) added = admin.add_credential(user, user);
    if (!added) {
      fmt::print(stderr, "cannot set up the demo users on Redis at {}: {}\n", admin.client().seed().address(), added.error().message);
      return 1;
    }
  }
  tollgate::durable_ledger_options outbox;
  outbox.journal_path = args.outbox;
  tollgate::durable_ledger ledger(*redis, outbox);  // async over an async ledger: the loop never waits
  tollgate::metrics::watch_outbox(metrics_registry(), ledger);
  fmt::print(stderr, "quickstart: using the Redis ledger at {} (asynchronous, on the loop)\n", admin.client().seed().address());
  const int code = serve(io, make_routes(ledger, [&](const std::string& user) { return admin.balance(user); }), args);
  redis->close();  // the loop has stopped: calls still in flight fail now, while the outbox they reach exists
  return code;
#else
  fmt::print(stderr, "this quickstart was built without hiredis: --redis is not available\n");
  return 2;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const arguments args = parse_arguments(argc, argv);
  boost::asio::io_context io(args.threads);  // first: it must outlive every ledger below
  if (args.redis_url) return serve_on_redis(io, args);

  if (const char* url = std::getenv("CREDIT_SERVICE_URL"); url != nullptr && *url != '\0') {
    // Beast's own HTTP client on the same loop: nothing waits on the credit service, and no
    // worker threads are needed (the outbox's retries use the blocking form, on its own thread).
    std::optional<tollgate::beast::credit_service_ledger> service;
    try {
      service.emplace(tollgate::credit_service_ledger_options::from_environment(), io.get_executor());
    } catch (const tollgate::configuration_error& e) {
      fmt::print(stderr, "configuration error: {}\n", e.what());
      return 2;
    }
    tollgate::durable_ledger_options outbox;
    outbox.journal_path = args.outbox;
    tollgate::durable_ledger ledger(*service, outbox);
    tollgate::metrics::watch_outbox(metrics_registry(), ledger);
    tollgate::metrics::watch_circuit(metrics_registry(), *service);
    fmt::print(stderr, "quickstart: using the credit service at {}\n", service->options().base_url);
    return serve(io, make_routes(ledger, [&](const std::string& user, balance_reply answer) { service->async_balance(user, std::move(answer)); }),
                 args);
  }

  tollgate::memory_ledger ledger;
  for (const char* user : {"test-user-1", "test-user-2", "test-user-3"}) {
    ledger.add_user(user, 100_cr);
    ledger.add_credential(user, user);
  }
  return serve(io, make_routes(ledger,
                           [&](const std::string& user) -> tollgate::result<tollgate::credits> {
                             if (auto b = ledger.balance(user)) return *b;
                             return tollgate::ledger_error{tollgate::ledger_errc::unknown_credential, "user not found"};
                           }),
               args);
}
