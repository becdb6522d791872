// An HTTP server for wrk: the same handler bare (/plain), metered (/metered) and metered with metrics
// on (/metered-metrics: README "Metrics", the shipped defaults), on the memory ledger, or with
// `--redis URL` on the Redis ledger (bench-user created there if absent). With `--beast`, the same
// routes on tollgate's Beast server, one loop thread, default options.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <httplib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/adapters/httplib.hpp>
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/tollgate.hpp>
#if TOLLGATE_BENCH_WITH_REDIS
#include <tollgate/ledgers/redis_ledger.hpp>
#endif

namespace {
httplib::Server* running = nullptr;
void on_signal(int) {
  if (running != nullptr) running->stop();
}
void handler(const httplib::Request&, httplib::Response& res) { res.set_content("{\"ok\":true}", "application/json"); }

using namespace tollgate::literals;
using bench_metered = tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.001_cr>>;

// The route's settings: warnings only; with a registry, the route's metrics go there.
tollgate::metered_config route_config(tollgate::metrics::registry* metrics = nullptr) {
  tollgate::metered_config config{tollgate::logger(tollgate::log_level::warn), {}};
  config.metrics = metrics;
  if (metrics != nullptr) config.route = "/metered-metrics";
  return config;
}

tollgate::metrics::registry bench_metrics;  // what /metered-metrics records, as a service would export it

int serve(tollgate::ledger_ref ledger, const std::function<std::string()>& balance) {
  httplib::Server svr;
  tollgate::tune(svr);  // the shipped defaults, exactly as the examples use them: nothing bench-only
  svr.Get("/plain", handler);
  svr.Get("/metered", bench_metered{ledger, handler, route_config()});
  svr.Get("/metered-metrics", bench_metered{ledger, handler, route_config(&bench_metrics)});
  svr.Get("/balance", [&](const httplib::Request&, httplib::Response& res) { res.set_content(balance(), "text/plain"); });
  const int port = svr.bind_to_any_port("127.0.0.1");
  running = &svr;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  return svr.listen_after_bind() ? 0 : 1;
}

// The same routes and handler on the asynchronous Beast server: metered through its non-blocking path.
int serve_beast(tollgate::memory_ledger& ledger) {
  using tollgate::beast::request;
  using tollgate::beast::response;
  const auto beast_handler = [](const request&, response& res) {
    res.set(boost::beast::http::field::content_type, "application/json");
    res.body() = "{\"ok\":true}";
  };
  tollgate::beast::router routes;
  routes.get("/plain", beast_handler);
  routes.get("/metered", bench_metered{ledger, beast_handler, route_config()});
  routes.get("/metered-metrics", bench_metered{ledger, beast_handler, route_config(&bench_metrics)});
  routes.get("/balance", [&](const request&, response& res) { res.body() = ledger.balance("bench-user")->to_string(); });
  boost::asio::io_context io(1);
  tollgate::beast::server server(io, std::move(routes));
  const auto port = server.listen("127.0.0.1", 0);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto start_balance = tollgate::credits::whole(1'000'000'000);
  if (argc == 3 && std::string_view(argv[1]) == "--redis") {
#if TOLLGATE_BENCH_WITH_REDIS
    tollgate::redis_ledger_options options;
    options.url = argv[2];
    tollgate::redis_ledger ledger(options);
    if (!ledger.add_user("bench-user", start_balance) || !ledger.add_credential("bench-user", "bench-user")) {
      fmt::print(stderr, "cannot set up bench-user on {}\n", argv[2]);
      return 1;
    }
    return serve(ledger, [&] { return ledger.balance("bench-user")->to_string(); });
#else
    fmt::print(stderr, "built without hiredis\n");
    return 2;
#endif
  }
  const bool beast = argc == 2 && std::string_view(argv[1]) == "--beast";
  if (argc != 1 && !beast) {
    fmt::print(stderr, "usage: {} [--redis redis://host:port | --beast]\n", argv[0]);
    return 2;
  }
  tollgate::memory_ledger ledger;
  ledger.add_user("bench-user", start_balance);
  ledger.add_credential("bench-user", "bench-user");
  if (beast) return serve_beast(ledger);
  return serve(ledger, [&] { return ledger.balance("bench-user")->to_string(); });
}
