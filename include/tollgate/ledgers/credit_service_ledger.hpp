// SPDX-License-Identifier: MIT
// credit_service_ledger: the ledger concept over the nilauth-credit HTTP API (cpp-httplib, nlohmann/json).
#ifndef TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP
#define TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/credits.hpp>
#include <tollgate/detail/circuit_breaker.hpp>
#include <tollgate/detail/deadline_watchdog.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>

namespace tollgate {

/// A configuration that cannot work (no token, a malformed URL or timeout): raised at start-up,
/// so a bad deployment fails to boot instead of answering 500s.
class configuration_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Which lock endpoint a credential goes to.
enum class credential_kind {
  private_key,  ///< an API key: POST /v1/balance/lock/private
  public_id,    ///< a public identity (did:nil:…): POST /v1/balance/lock/public
  detect,       ///< `did:` prefix → public, anything else → private
};

/// What GET /v1/summary reports: available balances and the open locks.
struct credit_service_summary {
  struct user {
    std::string user_id;
    credits balance;
  };
  std::vector<user> users;
  std::vector<std::string> lock_ids;
};

/// Settings of a credit_service_ledger.
struct credit_service_ledger_options {
  std::string base_url = "http://localhost:3000";  ///< with or without a trailing '/'
  redacted api_token{};                           ///< sent as `Authorization: Bearer …`; required
  std::chrono::milliseconds timeout{10'000};      ///< bounds one whole call: connect, send, receive
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds read_timeout{10'000};  ///< per socket read, within `timeout`
  credential_kind credentials = credential_kind::private_key;
  std::size_t max_idle_connections = 64;          ///< keep-alive connections kept for reuse (each holds a credit-server worker while idle)
  std::size_t breaker_failures = 5;               ///< consecutive transient failures that open the circuit
  /// The longest the circuit stays open: the first opening lasts 250 ms, each failed probe doubles
  /// it up to this, so a service that is back is called again within this long.
  std::chrono::milliseconds breaker_open_for{1'000};
  logger log{};
  /// The async forms (async_lock, async_settle, async_release) run on a pool of this many threads,
  /// started at the first async call, behind a queue of at most `async_queue_capacity` locks (one
  /// more completes at once with `unavailable`). A pool rather than a non-blocking client: the
  /// client is cpp-httplib's, which blocks, and each worker holds one keep-alive connection.
  std::size_t async_threads = 8;
  std::size_t async_queue_capacity = 1024;

  /// From CREDIT_SERVICE_URL (default http://localhost:3000), CREDIT_API_TOKEN (required) and
  /// CREDIT_TIMEOUT (seconds, fractions allowed; default 10). Throws configuration_error.
  [[nodiscard]] static credit_service_ledger_options from_environment() {
    credit_service_ledger_options o;
    if (const char* url = std::getenv("CREDIT_SERVICE_URL"); url != nullptr && *url != '\0') o.base_url = url;
    const char* token = std::getenv("CREDIT_API_TOKEN");
    if (token == nullptr || *token == '\0')
      throw configuration_error("CREDIT_API_TOKEN is not set: the credit service needs a bearer token");
    o.api_token = redacted(token);
    if (const char* t = std::getenv("CREDIT_TIMEOUT"); t != nullptr && *t != '\0') o.timeout = parse_seconds(t, "CREDIT_TIMEOUT");
    o.read_timeout = o.timeout;
    return o;
  }

  /// "2.5" → 2500 ms. Throws configuration_error on anything but a positive decimal.
  [[nodiscard]] static std::chrono::milliseconds parse_seconds(std::string_view text, std::string_view what) {
    auto amount = credits::parse(text);  // a decimal parser with exact fractions, reused for seconds
    if (!amount || amount->micros() <= 0 || amount->micros() > std::int64_t{86'400} * credits::scale)
      throw configuration_error(std::string(what) + " must be a number of seconds above 0 (got '" + std::string(text) + "')");
    return std::chrono::milliseconds(std::max<std::int64_t>(1, amount->micros() / 1000));
  }
};

/// The nilauth-credit service as a ledger. Keep-alive connections are pooled (no lock is held
/// across a network call), every call is bounded by `timeout`, and after repeated failures a
/// circuit breaker answers `unavailable` at once until a probe succeeds. Failures keep their
/// cause: 400 → insufficient_funds, 404 → unknown_credential, 401/403 → unauthorized, network
/// errors, timeouts and 5xx → unavailable.
///
///     tollgate::credit_service_ledger ledger{tollgate::credit_service_ledger_options::from_environment()};
class credit_service_ledger {
 public:
  using ledger_concept = ledger_t;
  using async_ledger_concept = async_ledger_t;

  explicit credit_service_ledger(credit_service_ledger_options options)
      : options_(std::move(options)), breaker_(options_.breaker_failures, options_.breaker_open_for) {
    if (options_.api_token.empty()) throw configuration_error("the credit service needs an API token (CREDIT_API_TOKEN)");
    if (options_.timeout.count() <= 0) throw configuration_error("the credit service timeout must be above 0");
    parse_base_url(options_.base_url);
  }
  credit_service_ledger(const credit_service_ledger&) = delete;
  credit_service_ledger& operator=(const credit_service_ledger&) = delete;

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a lock amount must not be negative"};
    const bool is_public = options_.credentials == credential_kind::public_id ||
                           (options_.credentials == credential_kind::detect && credential.rfind("did:", 0) == 0);
    const auto body = json_body({{"credential", credential}, {"amount", amount}});
    if (!body) return ledger_error{ledger_errc::unknown_credential, "the credential is not valid UTF-8"};
    auto answer = call("POST", is_public ? "/v1/balance/lock/public" : "/v1/balance/lock/private", *body, idempotency_key);
    if (!answer) return answer.error();
    const auto& [status, text] = *answer;
    if (status == 200) {
      const auto parsed = nlohmann::json::parse(text, nullptr, false);
      if (parsed.is_object() && parsed.contains("lock_id") && parsed["lock_id"].is_string())
        return lock_grant{parsed["lock_id"].get<std::string>(), amount};
      return ledger_error{ledger_errc::misconfigured, "the credit service answered the lock without a lock_id"};
    }
    if (status == 400) return ledger_error{error_code(text, ledger_errc::insufficient_funds), error_message(text)};
    if (status == 404) return ledger_error{ledger_errc::unknown_credential, error_message(text)};
    return other_status(status, text);
  }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    if (real_cost.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a cost must not be negative"};
    const auto body = json_body({{"lock_id", lock_id}, {"real_cost", real_cost}});
    if (!body) return ledger_error{ledger_errc::lock_not_found, "the lock id is not valid UTF-8"};
    auto answer = call("POST", "/v1/balance/unlock", *body, {});
    if (!answer) return answer.error();
    const auto& [status, text] = *answer;
    if (status == 200) {
      const auto parsed = nlohmann::json::parse(text, nullptr, false);  // the body may be empty
      const bool replayed = parsed.is_object() && parsed.value("replayed", false);
      return settlement{real_cost, replayed};
    }
    if (status == 404) return ledger_error{ledger_errc::lock_not_found, error_message(text)};
    if (status == 400) return ledger_error{error_code(text, ledger_errc::invalid_amount), "invalid unlock: " + error_message(text)};
    return other_status(status, text);
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  // The async forms: the same calls on a bounded worker pool (see credit_service_ledger_options),
  // so an event loop never waits on the network; each handler is called on a worker thread.
  template <class Handler>
  void async_lock(std::string_view credential, credits amount, std::string_view idempotency_key, Handler&& done) {
    offloaded().async_lock(credential, amount, idempotency_key, std::forward<Handler>(done));
  }
  template <class Handler>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    offloaded().async_settle(lock_id, real_cost, std::forward<Handler>(done));
  }
  template <class Handler>
  void async_release(std::string_view lock_id, Handler&& done) {
    offloaded().async_release(lock_id, std::forward<Handler>(done));
  }

  /// GET /v1/health: true when the service answers 200 in time.
  [[nodiscard]] bool health() {
    auto answer = call("GET", "/v1/health", {}, {});
    return answer && answer->first == 200;
  }

  /// A user's available balance (GET /v1/users/{id}).
  result<credits> balance(std::string_view user_id) {
    auto answer = call("GET", "/v1/users/" + percent_encode(user_id), {}, {});
    if (!answer) return answer.error();
    const auto& [status, text] = *answer;
    if (status == 200) {
      const auto parsed = nlohmann::json::parse(text, nullptr, false);
      try {
        if (parsed.is_object() && parsed.contains("balance")) return parsed["balance"].get<credits>();
      } catch (const std::exception&) {
      }
      return ledger_error{ledger_errc::misconfigured, "the credit service answered without a numeric balance"};
    }
    if (status == 404) return ledger_error{ledger_errc::unknown_credential, error_message(text)};
    return other_status(status, text);
  }

  /// GET /v1/summary: every user's available balance and the open locks.
  result<credit_service_summary> summary() {
    auto answer = call("GET", "/v1/summary", {}, {});
    if (!answer) return answer.error();
    const auto& [status, text] = *answer;
    if (status != 200) return other_status(status, text);
    try {
      const auto parsed = nlohmann::json::parse(text);
      credit_service_summary out;
      for (const auto& u : parsed.at("users")) out.users.push_back({u.at("user_id").get<std::string>(), u.at("balance").get<credits>()});
      for (const auto& l : parsed.at("locks")) out.lock_ids.push_back(l.at("lock_id").get<std::string>());
      return out;
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::misconfigured, std::string("unexpected summary from the credit service: ") + e.what()};
    }
  }

  [[nodiscard]] bool circuit_open() const { return breaker_.is_open(); }
  [[nodiscard]] const credit_service_ledger_options& options() const noexcept { return options_; }

 private:
  using answer = std::pair<int, std::string>;

  // One HTTP call through a pooled connection, bounded by the whole-call deadline. Never throws:
  // anything unexpected counts as a failed call, so the breaker and the watchdog stay consistent.
  result<answer> call(const char* method, const std::string& path, const std::string& body, std::string_view idempotency_key) {
    if (!breaker_.allow()) return ledger_error{ledger_errc::unavailable, "circuit open after repeated failures; not calling the credit service"};
    const std::string route = path.substr(0, path.find('/', 4));  // "/v1/users/alice" → "/v1" prefix only: ids stay out of logs
    try {
      auto client = acquire();
      httplib::Headers headers{{"Authorization", "Bearer " + options_.api_token.reveal()}};
      if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", std::string(idempotency_key));
      httplib::Result res{nullptr, httplib::Error::Unknown};
      bool timed_out = false;
      {
        // Disarmed on every path out of this block, so the watchdog never touches a freed client.
        struct armed {
          detail::deadline_watchdog& watchdog;
          detail::deadline_watchdog::ticket ticket;
          bool* fired;
          ~armed() { *fired = !watchdog.disarm(ticket); }
        } guard{watchdog_, watchdog_.arm(std::chrono::steady_clock::now() + options_.timeout, [c = client.get()] { c->stop(); }),
                &timed_out};
        res = std::string_view(method) == "GET" ? client->Get((base_path_ + path).c_str(), headers)
                                                : client->Post((base_path_ + path).c_str(), headers, body, "application/json");
      }
      if (!res || timed_out) {
        breaker_.record_failure();  // the connection is in an unknown state: drop it
        // So are the idle ones, most likely (a restarted service closed them all): a probe after
        // the outage must not meet a dead pooled connection and open the circuit again.
        drop_idle_clients();
        // A timeout, or a connection lost after sending, leaves the outcome unknown.
        const bool sent = timed_out || res.error() == httplib::Error::Read;
        const std::string why = timed_out ? "timed out after " + std::to_string(options_.timeout.count()) + " ms"
                                          : "connection failed: " + httplib::to_string(res.error());
        options_.log.warn("credit service {} {}: {}", method, route, why);
        return ledger_error{ledger_errc::unavailable, why, sent};
      }
      if (res->status >= 500) {
        breaker_.record_failure();
        release_client(std::move(client));
        // The service's own error text goes to our log, not to end clients.
        options_.log.warn("credit service {} {} answered {}: {}", method, route, res->status, error_message(res->body));
        return ledger_error{ledger_errc::unavailable, "the credit service answered " + std::to_string(res->status), true};
      }
      breaker_.record_success();
      release_client(std::move(client));
      return answer{res->status, std::move(res->body)};
    } catch (const std::exception& e) {
      breaker_.record_failure();
      options_.log.error("credit service {} {}: {}", method, route, e.what());
      return ledger_error{ledger_errc::unavailable, std::string("the call failed: ") + e.what()};
    }
  }

  // JSON text for a request body; ids that are not valid UTF-8 cannot be sent as JSON strings.
  static std::optional<std::string> json_body(const nlohmann::json& body) {
    try {
      return body.dump();
    } catch (const nlohmann::json::type_error&) {
      return std::nullopt;
    }
  }

  ledger_error other_status(int status, const std::string& text) const {
    if (status == 401 || status == 403) {
      options_.log.error("the credit service rejected tollgate's API token (HTTP {}): check CREDIT_API_TOKEN", status);
      return ledger_error{ledger_errc::unauthorized, "the credit service rejected this server's credentials"};
    }
    return ledger_error{ledger_errc::misconfigured, "unexpected HTTP " + std::to_string(status) + " from the credit service: " + error_message(text)};
  }

  static std::string percent_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
      }
    }
    return out;
  }

  // `{"error": "…"}` as the contract says; any other body is kept as text, never parsed blindly.
  // A 400's precise case: tollgate's credit server names it in "code"; the original does not, so
  // the status's usual meaning is the fallback. Only the cases a 400 can carry are taken.
  static ledger_errc error_code(const std::string& text, ledger_errc fallback) {
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("code") || !parsed["code"].is_string()) return fallback;
    const auto& code = parsed["code"].get_ref<const std::string&>();
    for (auto e : {ledger_errc::insufficient_funds, ledger_errc::invalid_amount, ledger_errc::conflicting_settlement})
      if (code == to_string(e)) return e;
    return fallback;
  }

  static std::string error_message(const std::string& text) {
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) return parsed["error"].get<std::string>();
    if (parsed.is_object() && parsed.contains("detail") && parsed["detail"].is_string()) return parsed["detail"].get<std::string>();
    std::string raw = text.substr(0, 200);
    return raw.empty() ? "(no body)" : raw;
  }

  void parse_base_url(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos || (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0))
      throw configuration_error("CREDIT_SERVICE_URL must start with http:// or https:// (got '" + url + "')");
    const auto path_start = url.find('/', scheme_end + 3);
    origin_ = url.substr(0, path_start);
    base_path_ = path_start == std::string::npos ? "" : url.substr(path_start);
    if (origin_.size() <= scheme_end + 3) throw configuration_error("CREDIT_SERVICE_URL has no host");
  }

  std::unique_ptr<httplib::Client> acquire() {
    {
      std::lock_guard guard(pool_mutex_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<httplib::Client>(origin_);
    // Keep-alive (the pool reuses the connection) and TCP_NODELAY, with this ledger's timeouts.
    tune(*c, client_tuning{.connection_timeout = std::min(options_.connect_timeout, options_.timeout),
                           .read_timeout = std::min(options_.read_timeout, options_.timeout),
                           .write_timeout = options_.timeout});
    return c;
  }

  void drop_idle_clients() {
    std::vector<std::unique_ptr<httplib::Client>> dead;
    {
      std::lock_guard guard(pool_mutex_);
      dead.swap(idle_);
    }
  }

  void release_client(std::unique_ptr<httplib::Client> c) {
    std::lock_guard guard(pool_mutex_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(c));
  }

  credit_service_ledger_options options_;
  std::string origin_;
  std::string base_path_;
  detail::circuit_breaker breaker_;
  detail::deadline_watchdog watchdog_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;
  // Last, so it is destroyed first: its workers finish their settles while the pool above is alive.
  std::once_flag async_started_;
  std::unique_ptr<offloading_ledger<credit_service_ledger>> async_;

  offloading_ledger<credit_service_ledger>& offloaded() {
    std::call_once(async_started_, [this] {
      async_ = std::make_unique<offloading_ledger<credit_service_ledger>>(
          *this, offloading_options{.threads = options_.async_threads, .queue_capacity = options_.async_queue_capacity, .log = options_.log});
    });
    return *async_;
  }
};

static_assert(ledger<credit_service_ledger>);
static_assert(async_ledger<credit_service_ledger>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_CREDIT_SERVICE_LEDGER_HPP
