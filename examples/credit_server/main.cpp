// The reference credit server: the credit-service HTTP API over tollgate's in-process ledger, or
// over Redis, shared by every credit server pointed at it.
//
//   tollgate_credit_server --token T [--port N] [--seed FILE] [--state FILE | --redis URL]
//                          [--compact-after BYTES] [--lock-ttl SECONDS] [--log-level LEVEL] [--log-file FILE]
//   (the token may come from CREDIT_API_TOKEN instead; 0 = any free port; the first stdout line is
//    "listening on 127.0.0.1:PORT")
// GET /metrics serves Prometheus metrics: requests by endpoint and status (README "Metrics").
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/metrics.hpp>
#include <tollgate/metrics/httplib.hpp>
#include <tollgate/service/credit_service.hpp>
#include <tollgate/service/state_file.hpp>
#if TOLLGATE_CREDIT_SERVER_WITH_REDIS
#include <tollgate/service/redis_credit_store.hpp>
#endif

namespace {

constexpr int exit_usage = 2;

struct settings {
  int port = 3000;
  std::string token;
  std::string seed_file;
  std::string redis_url;
  std::string state_file;
  std::uint64_t compact_after = std::uint64_t{64} << 20;
  std::chrono::milliseconds lock_ttl = std::chrono::minutes(5);
  tollgate::log_level level = tollgate::log_level::info;
  std::string log_file;
};

// tollgate_credit_service_requests_total{endpoint, code}: every child made at start, so a request
// formats no label. A user id in a path (/v1/users/<id>) is never a label: it is counted under its pattern.
class request_metrics {
 public:
  static constexpr std::string_view endpoints[] = {"/health", "/v1/health", "/v1/balance/lock/private", "/v1/balance/lock/public",
                                                   "/v1/balance/unlock", "/v1/summary", "/v1/users/topup", "/v1/users",
                                                   "/v1/users/{id}", "/v1/credential", "/metrics", "other"};
  static constexpr int codes[] = {200, 201, 204, 400, 401, 402, 404, 405, 409, 413, 422, 429, 500, 503, 0};

  explicit request_metrics(tollgate::metrics::registry& r) {
    auto& family = r.counter("tollgate_credit_service_requests_total",
                             "Requests to the credit server by endpoint and status code (0: any other code).", {"endpoint", "code"});
    for (std::size_t e = 0; e < std::size(endpoints); ++e)
      for (std::size_t c = 0; c < std::size(codes); ++c) children_[e][c] = &family.with({endpoints[e], std::to_string(codes[c])});
  }

  void count(std::string_view path, int status) noexcept {
    std::size_t e = std::size(endpoints) - 1;
    for (std::size_t i = 0; i + 1 < std::size(endpoints); ++i)
      if (path == endpoints[i]) e = i;
    if (e == std::size(endpoints) - 1 && path.substr(0, 10) == "/v1/users/") e = 8;  // /v1/users/{id}
    std::size_t c = std::size(codes) - 1;
    for (std::size_t i = 0; i + 1 < std::size(codes); ++i)
      if (status == codes[i]) c = i;
    children_[e][c]->inc();
  }

 private:
  tollgate::metrics::counter* children_[std::size(endpoints)][std::size(codes)]{};
};

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "tollgate_credit_server: {}\n(try --help)\n", message);
  std::exit(exit_usage);
}

void print_help(const char* program) {
  fmt::print(
      "usage: {} --token T [options]\n"
      "  --token T            bearer token clients must send (or set CREDIT_API_TOKEN; required)\n"
      "  --port N             port on 127.0.0.1 (default 3000; 0 = any free port)\n"
      "  --seed FILE          JSON users/credentials/balances, applied to users that do not exist yet\n"
      "  --state FILE         durable state: snapshot FILE, journal FILE.journal.N; restored at start\n"
      "  --redis URL          keep the state in Redis (redis://[user:password@]host:port[/db], a cluster node\n"
      "                       works too): several credit servers on one Redis share it (or set REDIS_URL)\n"
      "  --compact-after BYTES  snapshot and start a new journal segment past this size (default 64 MiB)\n"
      "  --lock-ttl SECONDS   how long a lock holds funds before they return (default 300; fractions allowed)\n"
      "  --log-level LEVEL    debug, info, warn, error or off (default info)\n"
      "  --log-file FILE      append log lines to FILE instead of stderr\n",
      program);
}

int parse_port(std::string_view text) {
  int port = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size() || port < 0 || port > 65535)
    usage_error(fmt::format("--port must be an integer from 0 to 65535, not '{}'", text));
  return port;
}

std::uint64_t parse_bytes(std::string_view text) {
  std::uint64_t bytes = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (ec != std::errc{} || end != text.data() + text.size() || bytes == 0)
    usage_error(fmt::format("--compact-after must be a positive number of bytes, not '{}'", text));
  return bytes;
}

std::chrono::milliseconds parse_ttl(const std::string& text) {
  // Seconds as a decimal; a duration, not money, so a double is fine here.
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(seconds) || seconds <= 0 || seconds > 31'536'000)
    usage_error(fmt::format("--lock-ttl must be a number of seconds above 0 (at most a year), not '{}'", text));
  return std::chrono::milliseconds(std::max<std::int64_t>(1, std::llround(seconds * 1000)));
}

tollgate::log_level parse_level(std::string_view text) {
  for (auto l : {tollgate::log_level::debug, tollgate::log_level::info, tollgate::log_level::warn, tollgate::log_level::error,
                 tollgate::log_level::off})
    if (tollgate::to_string(l) == text) return l;
  usage_error(fmt::format("--log-level must be debug, info, warn, error or off, not '{}'", text));
}

settings parse_arguments(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help(argv[0]);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(fmt::format("unknown argument or missing value: {}", arg));
    const std::string value = argv[++i];
    if (arg == "--port") s.port = parse_port(value);
    else if (arg == "--token") s.token = value;
    else if (arg == "--seed") s.seed_file = value;
    else if (arg == "--state") s.state_file = value;
    else if (arg == "--redis") s.redis_url = value;
    else if (arg == "--compact-after") s.compact_after = parse_bytes(value);
    else if (arg == "--lock-ttl") s.lock_ttl = parse_ttl(value);
    else if (arg == "--log-level") s.level = parse_level(value);
    else if (arg == "--log-file") s.log_file = value;
    else usage_error(fmt::format("unknown argument: {}", arg));
  }
  if (s.token.empty())
    if (const char* env = std::getenv("CREDIT_API_TOKEN")) s.token = env;
  if (s.redis_url.empty())
    if (const char* env = std::getenv("REDIS_URL")) s.redis_url = env;
  if (!s.redis_url.empty() && !s.state_file.empty()) usage_error("--state and --redis exclude each other: Redis keeps the state");
  if (s.token.empty())
    usage_error("no bearer token: pass --token or set CREDIT_API_TOKEN (a credit server without a token is refused)");
  return s;
}

// A logger that appends to a file, one flushed line per message.
tollgate::logger file_logger(tollgate::log_level level, const std::string& path) {
  std::FILE* raw = std::fopen(path.c_str(), "a");
  if (raw == nullptr) usage_error(fmt::format("cannot open the log file {}", path));
  auto file = std::shared_ptr<std::FILE>(raw, [](std::FILE* f) { std::fclose(f); });
  auto mutex = std::make_shared<std::mutex>();
  return tollgate::logger(level, [file, mutex](tollgate::log_level l, std::string_view line) {
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    std::lock_guard guard(*mutex);
    fmt::print(file.get(), "{:%Y-%m-%dT%H:%M:%S}Z tollgate [{}] {}\n", now, tollgate::to_string(l), line);
    std::fflush(file.get());
  });
}

}  // namespace

int main(int argc, char** argv) {
  const settings config = parse_arguments(argc, argv);
  const tollgate::logger log = config.log_file.empty() ? tollgate::logger(config.level) : file_logger(config.level, config.log_file);

  // SIGTERM/SIGINT are taken by one thread with sigwait (the mask is inherited by httplib's
  // workers), so the stop runs in ordinary code, not in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::optional<tollgate::credit_service> service;
#if TOLLGATE_CREDIT_SERVER_WITH_REDIS
  std::optional<tollgate::redis_ledger> redis;
  std::optional<tollgate::redis_credit_store> redis_store;
#endif
  try {
    if (!config.redis_url.empty()) {
#if TOLLGATE_CREDIT_SERVER_WITH_REDIS
      tollgate::redis_ledger_options redis_options;
      redis_options.url = config.redis_url;
      redis_options.lock_ttl = config.lock_ttl;
      redis_options.log = log;
      redis.emplace(std::move(redis_options));
      redis_store.emplace(*redis);
      service.emplace(*redis_store, tollgate::redacted(config.token), log);
#else
      usage_error("this credit server was built without hiredis: --redis is not available");
#endif
    } else {
      // The service builds the ledger, so that with --state every change of it reaches the journal.
      tollgate::memory_ledger_options ledger_options;
      ledger_options.lock_ttl = config.lock_ttl;
      service.emplace(std::move(ledger_options), tollgate::redacted(config.token), log,
                      tollgate::credit_service_options{.state_file = config.state_file, .compact_after_bytes = config.compact_after});
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "tollgate_credit_server: {}\n", e.what());
    return 1;
  }
  if (!config.seed_file.empty()) {
    try {
      const auto text = tollgate::detail::read_whole_file(config.seed_file);
      if (!text) usage_error(fmt::format("the seed file {} does not exist", config.seed_file));
      const auto seed = nlohmann::json::parse(*text, nullptr, false);
      if (seed.is_discarded()) usage_error(fmt::format("the seed file {} is not valid JSON", config.seed_file));
      service->apply_seed(seed);
    } catch (const std::invalid_argument& e) {
      usage_error(fmt::format("{}: {}", config.seed_file, e.what()));
    } catch (const std::exception& e) {
      fmt::print(stderr, "tollgate_credit_server: {}\n", e.what());
      return 1;
    }
  }

  tollgate::metrics::registry metrics;
  request_metrics requests(metrics);
  httplib::Server server;
  tollgate::tune(server);  // TCP_NODELAY, long keep-alive, backlog 1024, a worker per connection
  service->mount(server);
  tollgate::metrics::mount(server, metrics);  // GET /metrics, the Prometheus text format
  server.set_logger([&requests](const httplib::Request& req, const httplib::Response& res) { requests.count(req.path, res.status); });
  const int port = config.port == 0 ? server.bind_to_any_port("127.0.0.1")
                                    : (server.bind_to_port("127.0.0.1", config.port) ? config.port : -1);
  if (port <= 0) {
    fmt::print(stderr, "tollgate_credit_server: cannot listen on 127.0.0.1:{}\n", config.port);
    return 1;
  }

  std::atomic<bool> stopping{false};
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&stop_signals, &received);
    if (!stopping.exchange(true)) log.info("signal {}: stopping", received);
    server.stop();
  });

  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  std::string where = config.state_file.empty() ? std::string() : fmt::format(", state {}", config.state_file);
#if TOLLGATE_CREDIT_SERVER_WITH_REDIS
  if (redis) where = fmt::format(", Redis at {}", redis->client().seed().address());
#endif
  log.info("credit server listening on 127.0.0.1:{} (lock ttl {} ms{})", port, config.lock_ttl.count(), where);
  const bool served = server.listen_after_bind();

  // listen returned on its own (not by a signal): wake the signal thread so it can be joined.
  if (!stopping.exchange(true)) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  // Every acknowledged change was durable before its reply; what is left (e.g. expiries noticed by a
  // read) is written when the service stops its journal.
  service.reset();
  log.info("credit server stopped");
  return served ? 0 : 1;
}
