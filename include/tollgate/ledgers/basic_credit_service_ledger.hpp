// SPDX-License-Identifier: MIT
// basic_credit_service_ledger<Transport>: the ledger concept over the nilauth-credit HTTP API —
// paths, JSON, status mapping, safe retries and a circuit breaker — on any credit_transport.
#ifndef TOLLGATE_LEDGERS_BASIC_CREDIT_SERVICE_LEDGER_HPP
#define TOLLGATE_LEDGERS_BASIC_CREDIT_SERVICE_LEDGER_HPP

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/detail/circuit_breaker.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/credit_transport.hpp>
#include <tollgate/ledgers/ledger.hpp>
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
  /// A call that got no answer (the connection failed or was lost) is tried again this many times
  /// within its `timeout`, when repeating it is safe: a GET, a settle or release (the service
  /// replays a settled lock), a lock with an idempotency key. Never a lock without one.
  std::size_t retries = 1;
  /// The async forms (async_lock, async_settle, async_release): a transport that blocks (cpp-httplib,
  /// the default) runs them on a pool of `async_threads` threads, started at the first async call;
  /// a non-blocking one (Beast) keeps at most `max_connections` exchanges in flight. Either way at
  /// most `async_queue_capacity` calls wait; one more lock completes at once with `unavailable`.
  std::size_t async_threads = 8;
  std::size_t max_connections = 64;
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

/// The nilauth-credit service as a ledger, over any `credit_transport` (the HTTP client). Every call
/// is bounded by `timeout`; a call that got no answer is retried when that is safe; after repeated
/// failures a circuit breaker answers `unavailable` at once until a probe succeeds. Failures keep
/// their cause: 400 → insufficient_funds, 404 → unknown_credential, 401/403 → unauthorized, no
/// answer, timeouts and 5xx → unavailable.
///
///     tollgate::credit_service_ledger ledger{options};                   // cpp-httplib (credit_service_ledger.hpp)
///     tollgate::beast::credit_service_ledger ledger{options, executor};  // Boost.Beast (adapters/beast/credit_transport.hpp)
///
/// The arguments after the options go to the transport's constructor, after its settings. The
/// transport and the protocol's state are shared with the calls in flight: destroying the ledger
/// does not wait for them, and each still completes (by its deadline).
template <class Transport>
class basic_credit_service_ledger {
  // A type, so the check runs as soon as the class is named; its message is then the only error.
  using well_formed = std::bool_constant<detail::check_credit_transport<Transport>()>;

 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "credit_service";  ///< the `ledger` label of its metrics
  using async_ledger_concept = async_ledger_t;
  using transport_type = Transport;

  template <class... TransportArgs>
  explicit basic_credit_service_ledger(credit_service_ledger_options options, TransportArgs&&... transport_args) {
    if (options.api_token.empty()) throw configuration_error("the credit service needs an API token (CREDIT_API_TOKEN)");
    if (options.timeout.count() <= 0) throw configuration_error("the credit service timeout must be above 0");
    auto [origin, base_path] = parse_base_url(options.base_url);
    credit_transport_settings settings{
        .origin = std::move(origin),
        .connect_timeout = std::min(options.connect_timeout, options.timeout),
        .read_timeout = std::min(options.read_timeout, options.timeout),
        .max_idle_connections = options.max_idle_connections,
        .max_connections = std::max<std::size_t>(1, options.max_connections),
        .worker_threads = std::max<std::size_t>(1, options.async_threads),
        .queue_capacity = std::max<std::size_t>(1, options.async_queue_capacity),
        .log = options.log,
    };
    shared_ = std::make_shared<shared_state>(std::move(options), std::move(base_path), std::move(settings),
                                             std::forward<TransportArgs>(transport_args)...);
  }
  basic_credit_service_ledger(const basic_credit_service_ledger&) = delete;
  basic_credit_service_ledger& operator=(const basic_credit_service_ledger&) = delete;

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) {
    auto request = lock_request(credential, amount, idempotency_key);
    if (!request) return request.error();
    return read_lock(*shared_, shared_->call(*request), amount);
  }
  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    auto request = settle_request(lock_id, real_cost);
    if (!request) return request.error();
    return read_settlement(*shared_, shared_->call(*request), real_cost);
  }
  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  // The async forms: the same calls through the transport's async_send; each handler is called
  // where the transport completes (a worker thread, or the executor's thread for Beast).
  template <class Handler>
  void async_lock(std::string_view credential, credits amount, std::string_view idempotency_key, Handler&& done) {
    auto request = lock_request(credential, amount, idempotency_key);
    if (!request) return std::forward<Handler>(done)(result<lock_grant>(request.error()));
    shared_state::async_call(shared_, std::move(*request),
                             [amount, done = std::forward<Handler>(done)](const shared_state& s, result<answer> a) mutable {
                               std::move(done)(read_lock(s, std::move(a), amount));
                             });
  }
  template <class Handler>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    auto request = settle_request(lock_id, real_cost);
    if (!request) return std::forward<Handler>(done)(result<settlement>(request.error()));
    shared_state::async_call(shared_, std::move(*request),
                             [real_cost, done = std::forward<Handler>(done)](const shared_state& s, result<answer> a) mutable {
                               std::move(done)(read_settlement(s, std::move(a), real_cost));
                             });
  }
  template <class Handler>
  void async_release(std::string_view lock_id, Handler&& done) {
    async_settle(lock_id, credits{}, std::forward<Handler>(done));
  }

  /// GET /v1/health: true when the service answers 200 in time.
  [[nodiscard]] bool health() {
    auto answer = shared_->call(get("/v1/health"));
    return answer && answer->status == 200;
  }

  /// A user's available balance (GET /v1/users/{id}).
  result<credits> balance(std::string_view user_id) { return read_balance(*shared_, shared_->call(get(user_target(user_id)))); }

  /// The same, with a completion handler called as `void(result<credits>)`, as the async forms are.
  template <class Handler>
  void async_balance(std::string_view user_id, Handler&& done) {
    shared_state::async_call(shared_, get(user_target(user_id)),
                             [done = std::forward<Handler>(done)](const shared_state& s, result<answer> a) mutable {
                               std::move(done)(read_balance(s, std::move(a)));
                             });
  }

  /// GET /v1/summary: every user's available balance and the open locks.
  result<credit_service_summary> summary() {
    auto answer = shared_->call(get("/v1/summary"));
    if (!answer) return answer.error();
    if (answer->status != 200) return shared_->other_status(*answer);
    try {
      const nlohmann::json parsed = nlohmann::json::parse(answer->body);
      credit_service_summary out;
      for (const auto& u : parsed.at("users")) out.users.push_back({u.at("user_id").get<std::string>(), u.at("balance").get<credits>()});
      for (const auto& l : parsed.at("locks")) out.lock_ids.push_back(l.at("lock_id").get<std::string>());
      return out;
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::misconfigured, std::string("unexpected summary from the credit service: ") + e.what()};
    }
  }

  [[nodiscard]] bool circuit_open() const { return shared_->breaker.is_open(); }
  /// The breaker's state: 0 closed, 1 open, 2 half-open (what `metrics::watch_circuit` exports).
  [[nodiscard]] int circuit_state() const { return shared_->breaker.state_code(); }
  [[nodiscard]] const credit_service_ledger_options& options() const noexcept { return shared_->options; }
  [[nodiscard]] Transport& transport() noexcept { return shared_->transport; }

 private:
  using answer = credit_reply;

  // A request as the protocol keeps it until it is sent (the transport's credit_request only views it).
  struct pending_request {
    const char* method;
    std::string target;  // without the base path
    std::string body;
    std::string idempotency_key;
    bool repeatable;   // safe to send twice: the service replays it
    bool ends_a_lock;  // a settle or a release
  };

  // What the ledger and its calls in flight share: the options, the breaker and the transport.
  struct shared_state {
    template <class... TransportArgs>
    shared_state(credit_service_ledger_options o, std::string base, credit_transport_settings settings, TransportArgs&&... args)
        : options(std::move(o)),
          base_path(std::move(base)),
          authorization("Bearer " + options.api_token.reveal()),
          breaker(options.breaker_failures, options.breaker_open_for),
          transport(std::move(settings), std::forward<TransportArgs>(args)...) {}

    credit_service_ledger_options options;
    std::string base_path;
    std::string authorization;  // a secret: only ever handed to the transport
    detail::circuit_breaker breaker;
    Transport transport;

    credit_request wire(const pending_request& r, const std::string& target, std::chrono::steady_clock::time_point deadline) const {
      return {r.method, target, r.body, authorization, r.idempotency_key, deadline, r.ends_a_lock};
    }

    // Records the outcome in the breaker and the log; a 5xx becomes `unavailable`. Returns whether
    // to try again: only a call that got no answer, is safe to repeat, has time left and
    // `retries_left`, and that the breaker lets through (asked last: in half-open state a `true`
    // is the one probe, which must then go out).
    bool judge(const pending_request& r, result<answer>& outcome, std::chrono::steady_clock::time_point deadline, bool retries_left) {
      // "/v1/users/alice" → "/v1" prefix only: ids stay out of logs.
      const std::string_view route = std::string_view(r.target).substr(0, r.target.find('/', 4));
      if (!outcome) {
        breaker.record_failure();
        options.log.warn("credit service {} {}: {}", r.method, route, outcome.error().message);
        const bool safe = r.repeatable || !outcome.error().may_have_applied;
        return retries_left && safe && std::chrono::steady_clock::now() < deadline && breaker.allow();
      }
      if (outcome->status >= 500) {
        breaker.record_failure();
        // The service's own error text goes to our log, not to end clients.
        options.log.warn("credit service {} {} answered {}: {}", r.method, route, outcome->status, error_message(outcome->body));
        outcome = ledger_error{ledger_errc::unavailable, fmt::format("the credit service answered {}", outcome->status), true};
        return false;
      }
      breaker.record_success();
      return false;
    }

    result<answer> call(const pending_request& r) {
      if (!breaker.allow()) return circuit_open_error();
      const auto deadline = std::chrono::steady_clock::now() + options.timeout;
      const std::string target = base_path + r.target;
      for (std::size_t attempt = 0;; ++attempt) {
        result<answer> outcome = transport.send(wire(r, target, deadline));
        if (!judge(r, outcome, deadline, attempt < options.retries)) return outcome;
      }
    }

    // One async call and its retries; owns the request while the transport works on it. The
    // handler is called as (shared_state, result<answer>).
    template <class Handler>
    struct async_operation {
      std::shared_ptr<shared_state> shared;
      pending_request request;
      std::string target;
      std::chrono::steady_clock::time_point deadline;
      std::size_t attempt = 0;
      Handler handler;

      static void send(std::unique_ptr<async_operation> op) {
        shared_state& s = *op->shared;
        const credit_request wire = s.wire(op->request, op->target, op->deadline);
        s.transport.async_send(wire, [op = std::move(op)](result<answer> outcome) mutable {
          async_operation& self = *op;
          if (self.shared->judge(self.request, outcome, self.deadline, self.attempt < self.shared->options.retries)) {
            ++self.attempt;
            return send(std::move(op));
          }
          std::move(self.handler)(*self.shared, std::move(outcome));
        });
      }
    };

    template <class Handler>
    static void async_call(const std::shared_ptr<shared_state>& shared, pending_request request, Handler&& done) {
      if (!shared->breaker.allow()) return std::forward<Handler>(done)(*shared, result<answer>(circuit_open_error()));
      std::unique_ptr<async_operation<std::decay_t<Handler>>> op;
      try {
        std::string target = shared->base_path + request.target;
        op.reset(new async_operation<std::decay_t<Handler>>{shared, std::move(request), std::move(target),
                                                            std::chrono::steady_clock::now() + shared->options.timeout, 0,
                                                            std::forward<Handler>(done)});
      } catch (const std::bad_alloc&) {
        return std::forward<Handler>(done)(*shared, result<answer>(ledger_error{ledger_errc::unavailable, "credit service ledger: out of memory"}));
      }
      async_operation<std::decay_t<Handler>>::send(std::move(op));
    }

    static ledger_error circuit_open_error() {
      return ledger_error{ledger_errc::unavailable, "circuit open after repeated failures; not calling the credit service"};
    }

    ledger_error other_status(const answer& a) const {
      if (a.status == 401 || a.status == 403) {
        options.log.error("the credit service rejected tollgate's API token (HTTP {}): check CREDIT_API_TOKEN", a.status);
        return ledger_error{ledger_errc::unauthorized, "the credit service rejected this server's credentials"};
      }
      return ledger_error{ledger_errc::misconfigured, fmt::format("unexpected HTTP {} from the credit service: {}", a.status, error_message(a.body))};
    }
  };

  result<pending_request> lock_request(std::string_view credential, credits amount, std::string_view idempotency_key) const {
    if (amount.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a lock amount must not be negative"};
    const auto kind = shared_->options.credentials;
    const bool is_public = kind == credential_kind::public_id || (kind == credential_kind::detect && credential.rfind("did:", 0) == 0);
    auto body = json_body({{"credential", credential}, {"amount", amount}});
    if (!body) return ledger_error{ledger_errc::unknown_credential, "the credential is not valid UTF-8"};
    return pending_request{"POST", is_public ? "/v1/balance/lock/public" : "/v1/balance/lock/private", std::move(*body),
                           std::string(idempotency_key), !idempotency_key.empty(), false};
  }

  static result<pending_request> settle_request(std::string_view lock_id, credits real_cost) {
    if (real_cost.is_negative()) return ledger_error{ledger_errc::invalid_amount, "a cost must not be negative"};
    auto body = json_body({{"lock_id", lock_id}, {"real_cost", real_cost}});
    if (!body) return ledger_error{ledger_errc::lock_not_found, "the lock id is not valid UTF-8"};
    return pending_request{"POST", "/v1/balance/unlock", std::move(*body), {}, true, true};
  }

  static std::string user_target(std::string_view user_id) { return "/v1/users/" + percent_encode(user_id); }

  static result<credits> read_balance(const shared_state& s, result<answer> a) {
    if (!a) return a.error();
    if (a->status == 200) {
      const nlohmann::json parsed = nlohmann::json::parse(a->body, nullptr, false);
      try {
        if (parsed.is_object() && parsed.contains("balance")) return parsed["balance"].get<credits>();
      } catch (const std::exception&) {
      }
      return ledger_error{ledger_errc::misconfigured, "the credit service answered without a numeric balance"};
    }
    if (a->status == 404) return ledger_error{ledger_errc::unknown_credential, error_message(a->body)};
    return s.other_status(*a);
  }

  static pending_request get(std::string target) { return pending_request{"GET", std::move(target), {}, {}, true, false}; }

  static result<lock_grant> read_lock(const shared_state& s, result<answer> a, credits amount) {
    if (!a) return a.error();
    if (a->status == 200) {
      const nlohmann::json parsed = nlohmann::json::parse(a->body, nullptr, false);
      if (parsed.is_object() && parsed.contains("lock_id") && parsed["lock_id"].is_string())
        return lock_grant{parsed["lock_id"].get<std::string>(), amount};
      return ledger_error{ledger_errc::misconfigured, "the credit service answered the lock without a lock_id"};
    }
    if (a->status == 400) return ledger_error{error_code(a->body, ledger_errc::insufficient_funds), error_message(a->body)};
    if (a->status == 404) return ledger_error{ledger_errc::unknown_credential, error_message(a->body)};
    return s.other_status(*a);
  }

  static result<settlement> read_settlement(const shared_state& s, result<answer> a, credits real_cost) {
    if (!a) return a.error();
    if (a->status == 200) {
      const nlohmann::json parsed = nlohmann::json::parse(a->body, nullptr, false);  // the body may be empty
      const bool replayed = parsed.is_object() && parsed.value("replayed", false);
      return settlement{real_cost, replayed};
    }
    if (a->status == 404) return ledger_error{ledger_errc::lock_not_found, error_message(a->body)};
    if (a->status == 400) return ledger_error{error_code(a->body, ledger_errc::invalid_amount), "invalid unlock: " + error_message(a->body)};
    return s.other_status(*a);
  }

  // JSON text for a request body; ids that are not valid UTF-8 cannot be sent as JSON strings.
  static std::optional<std::string> json_body(const nlohmann::json& body) {
    try {
      return body.dump();
    } catch (const nlohmann::json::type_error&) {
      return std::nullopt;
    }
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
    const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("code") || !parsed["code"].is_string()) return fallback;
    const auto& code = parsed["code"].get_ref<const std::string&>();
    for (auto e : {ledger_errc::insufficient_funds, ledger_errc::invalid_amount, ledger_errc::conflicting_settlement})
      if (code == to_string(e)) return e;
    return fallback;
  }

  static std::string error_message(const std::string& text) {
    const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) return parsed["error"].get<std::string>();
    if (parsed.is_object() && parsed.contains("detail") && parsed["detail"].is_string()) return parsed["detail"].get<std::string>();
    std::string raw = text.substr(0, 200);
    return raw.empty() ? "(no body)" : raw;
  }

  // "http://host:port/base/" → {"http://host:port", "/base"}.
  static std::pair<std::string, std::string> parse_base_url(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos || (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0))
      throw configuration_error("CREDIT_SERVICE_URL must start with http:// or https:// (got '" + url + "')");
    const auto path_start = url.find('/', scheme_end + 3);
    std::string origin = url.substr(0, path_start);
    if (origin.size() <= scheme_end + 3) throw configuration_error("CREDIT_SERVICE_URL has no host");
    return {std::move(origin), path_start == std::string::npos ? "" : url.substr(path_start)};
  }

  std::shared_ptr<shared_state> shared_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_BASIC_CREDIT_SERVICE_LEDGER_HPP
