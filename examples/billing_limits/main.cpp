// Example: serves GET /billing/limits (and GET /health) on 127.0.0.1 with tollgate's plan limits.
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

#include <httplib.h>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/billing/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/jwt/sign.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metrics/httplib.hpp>

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
  tollgate::metrics::registry metrics;  // GET /metrics: answers, plan lookups, JWT refusals by reason
  auto endpoint = std::make_shared<const tollgate::billing::limits_endpoint<>>(std::move(options).with_logger(log).with_metrics(metrics));

  httplib::Server server;
  tollgate::tune(server);  // TCP_NODELAY, long keep-alive, backlog 1024, a worker per connection
  tollgate::billing::mount(server, endpoint);
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
