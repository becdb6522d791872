// SPDX-License-Identifier: MIT
// credit_service: the credit-service HTTP API (nilauth-credit's contract) served from a credit_store.
#ifndef TOLLGATE_SERVICE_CREDIT_SERVICE_HPP
#define TOLLGATE_SERVICE_CREDIT_SERVICE_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
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

#include <tollgate/credits.hpp>
#include <tollgate/detail/random_id.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/service/credit_store.hpp>
#include <tollgate/service/memory_credit_store.hpp>

namespace tollgate {

/// Settings of a credit_service.
struct credit_service_options {
  /// The snapshot of the state, loaded at construction with the journal segments after it
  /// (`<state_file>.journal.<N>`, appended to on every change); empty: memory only. Needs the
  /// constructor that builds the ledger, so that the ledger's changes reach the journal.
  std::string state_file{};
  /// A journal segment growing past this many bytes is compacted into a new snapshot.
  std::uint64_t compact_after_bytes = std::uint64_t{64} << 20;
  /// Request bodies above this answer 413.
  std::size_t max_body_bytes = 64 * 1024;
  /// Longest user id, lock id or idempotency key accepted (credentials may be 4× longer).
  std::size_t max_id_length = 256;
};

namespace detail {

/// A request the service refuses with 400; the message names the offending field.
struct service_bad_request : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What a route answers: a status and a JSON body.
struct service_reply {
  int status = 200;
  nlohmann::json body;
};

[[nodiscard]] inline service_reply service_error(int status, std::string message) {
  return {status, nlohmann::json{{"error", std::move(message)}}};
}

/// Compares a presented bearer token with the expected one in time that depends only on the
/// expected length (not even the presented length shows), so response timing does not reveal how
/// many leading characters were right. (detail::constant_time_equal returns early on a length mismatch.)
[[nodiscard]] inline bool token_equal(std::string_view expected, std::string_view presented) noexcept {
  std::size_t diff = expected.size() ^ presented.size();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0u;
    diff |= static_cast<unsigned char>(expected[i]) ^ p;
  }
  return diff == 0;
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or nullopt.
[[nodiscard]] inline std::optional<std::string_view> bearer_token(std::string_view header) noexcept {
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

/// The body as a JSON object, or service_bad_request.
[[nodiscard]] inline nlohmann::json parse_object_body(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw service_bad_request("the request body is not valid JSON");
  if (!j.is_object()) throw service_bad_request("the request body must be a JSON object");
  return j;
}

/// A printable, bounded identifier: non-empty, at most `max_length` bytes, no control characters.
inline void check_identifier(std::string_view name, std::string_view value, std::size_t max_length) {
  if (value.empty()) throw service_bad_request(fmt::format("field '{}' must not be empty", name));
  if (value.size() > max_length)
    throw service_bad_request(fmt::format("field '{}' is longer than {} bytes", name, max_length));
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw service_bad_request(fmt::format("field '{}' must not contain control characters", name));
}

[[nodiscard]] inline std::string string_field(const nlohmann::json& body, const char* name, std::size_t max_length) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) throw service_bad_request(fmt::format("missing field '{}'", name));
  if (!it->is_string()) throw service_bad_request(fmt::format("field '{}' must be a string", name));
  std::string value = it->get<std::string>();
  check_identifier(name, value, max_length);
  return value;
}

/// A non-negative amount given as a JSON number, converted exactly (tollgate/json/credits.hpp).
[[nodiscard]] inline credits amount_field(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) throw service_bad_request(fmt::format("missing field '{}'", name));
  // A decimal string is accepted too: it is how an amount a double cannot carry exactly (a
  // fraction at 2^33 credits or more) travels without losing a digit (see json/credits.hpp).
  if (!it->is_number() && !it->is_string())
    throw service_bad_request(fmt::format("field '{}' must be a JSON number (or an exact decimal string)", name));
  credits amount;
  try {
    amount = it->get<credits>();
  } catch (const std::exception&) {
    throw service_bad_request(fmt::format("field '{}' must be a finite amount of credits within range", name));
  }
  if (amount.is_negative()) throw service_bad_request(fmt::format("field '{}' must not be negative", name));
  return amount;
}

[[nodiscard]] inline bool bool_field(const nlohmann::json& body, const char* name, bool fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw service_bad_request(fmt::format("field '{}' must be true or false", name));
  return it->get<bool>();
}

/// Invalid UTF-8 (e.g. from a percent-decoded path) must not make serialisation throw.
[[nodiscard]] inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace detail

/// Serves the credit-service contract (docs/credit-server.md) from a credit_store on a
/// cpp-httplib server: lock (private and public credentials), unlock, health, summary, users,
/// top-up and credentials, behind a bearer token. On a memory ledger it is optionally durable:
/// every change is journaled and a reply is sent only once the changes it reflects are on disk.
/// On Redis (redis_credit_store) several services share one state. The service must outlive the
/// server it is mounted on.
///
///     tollgate::credit_service service(tollgate::memory_ledger_options{}, tollgate::redacted{token},
///                                      tollgate::logger{}, {.state_file = "state.json"});
///     httplib::Server server;
///     service.mount(server);
///     server.listen("127.0.0.1", 3000);
class credit_service {
 public:
  /// Serves `ledger`, memory only (`options.state_file` must be empty: use the other constructor).
  /// Throws std::invalid_argument for an empty token.
  credit_service(memory_ledger& ledger, redacted token, logger log = logger{}, credit_service_options options = {})
      : token_(std::move(token)), log_(std::move(log)), options_(std::move(options)),
        memory_(std::make_unique<memory_credit_store>(ledger)), store_(*memory_) {
    check_token();
    if (!options_.state_file.empty())
      throw std::invalid_argument("tollgate::credit_service: a state file needs the service to build its ledger "
                                  "(pass memory_ledger_options), so that every change reaches the journal");
  }

  /// Builds its own ledger from `ledger_options` and, with `options.state_file`, restores the state
  /// (snapshot and journal) and journals every change. Throws std::invalid_argument for an empty
  /// token and std::runtime_error for a state that cannot be read or is damaged (never starts
  /// empty on top of a damaged file: that would forget balances).
  credit_service(memory_ledger_options ledger_options, redacted token, logger log = logger{}, credit_service_options options = {})
      : token_(std::move(token)), log_(std::move(log)), options_(std::move(options)),
        memory_(make_memory_store(std::move(ledger_options))), store_(*memory_) {}

  /// Serves any store, e.g. a redis_credit_store shared by several credit servers. The store must
  /// outlive the service; `options.state_file` does not apply (the store keeps its own state).
  credit_service(credit_store& store, redacted token, logger log = logger{}, credit_service_options options = {})
      : token_(std::move(token)), log_(std::move(log)), options_(std::move(options)), store_(store) {
    check_token();
    if (!options_.state_file.empty()) throw std::invalid_argument("tollgate::credit_service: a state file applies to the memory store only");
  }

  credit_service(const credit_service&) = delete;
  credit_service& operator=(const credit_service&) = delete;

  /// The memory ledger the service serves; std::logic_error when it serves another store.
  [[nodiscard]] memory_ledger& ledger() {
    if (!memory_) throw std::logic_error("tollgate::credit_service::ledger(): this service does not serve a memory ledger");
    return memory_->ledger();
  }

  /// Registers every route, the JSON 404/413 bodies and the body-size limit on `server`.
  void mount(httplib::Server& server) {
    server.set_payload_max_length(options_.max_body_bytes);
    const auto health = [](const httplib::Request&) { return detail::service_reply{200, {{"status", "ok"}}}; };
    server.Get("/health", route(false, health));
    server.Get("/v1/health", route(false, health));
    server.Post("/v1/balance/lock/private", route(true, [this](const httplib::Request& req) { return lock(req, false); }));
    server.Post("/v1/balance/lock/public", route(true, [this](const httplib::Request& req) { return lock(req, true); }));
    server.Post("/v1/balance/unlock", route(true, [this](const httplib::Request& req) { return unlock(req); }));
    server.Get("/v1/summary", route(true, [this](const httplib::Request&) { return summary(); }));
    server.Post("/v1/users/topup", route(true, [this](const httplib::Request& req) { return top_up(req); }));
    server.Post("/v1/users", route(true, [this](const httplib::Request& req) { return create_user(req); }));
    server.Get(R"(/v1/users/([^/]+))", route(true, [this](const httplib::Request& req) { return get_user(req); }));
    server.Post("/v1/credential", route(true, [this](const httplib::Request& req) { return create_credential(req); }));

    // Statuses httplib produces itself (no route, body too large, unparsable request) get the
    // contract's error body too; our own error replies already carry one.
    server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string message;
      switch (res.status) {
        case 404: message = fmt::format("no such endpoint: {} {}", req.method, req.path); break;
        case 400: message = "malformed HTTP request"; break;
        case 413: message = "the request body is too large"; break;
        case 414: message = "the request URI is too long"; break;
        default: message = fmt::format("request failed with status {}", res.status); break;
      }
      res.set_content(detail::dump_json({{"error", message}}), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }));
    server.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      log_.error("credit service: unexpected exception outside a route");
      write(res, detail::service_error(500, "internal error"));
    });
  }

  /// Applies a seed `{"users": [{"user_id", "balance", "credentials": [{"key", "is_public"}]}]}`:
  /// only users that do not exist yet are created (with their credentials), so a restart with the
  /// same seed over a state file changes nothing. Validates the whole seed first and throws
  /// std::invalid_argument naming the problem; returns how many users were created.
  std::size_t apply_seed(const nlohmann::json& seed) {
    struct seed_credential { std::string key; bool is_public; };
    struct seed_user { std::string user_id; credits balance; std::vector<seed_credential> credentials; };
    std::vector<seed_user> users;
    try {
      if (!seed.is_object() || !seed.contains("users") || !seed["users"].is_array())
        throw detail::service_bad_request("the seed must be an object with a \"users\" array");
      for (const auto& u : seed["users"]) {
        if (!u.is_object()) throw detail::service_bad_request("every seed user must be an object");
        seed_user user{detail::string_field(u, "user_id", options_.max_id_length), detail::amount_field(u, "balance"), {}};
        if (u.contains("credentials")) {
          if (!u["credentials"].is_array()) throw detail::service_bad_request("field 'credentials' must be an array");
          for (const auto& c : u["credentials"]) {
            if (!c.is_object()) throw detail::service_bad_request("every seed credential must be an object");
            user.credentials.push_back({detail::string_field(c, "key", credential_max_length()), detail::bool_field(c, "is_public", false)});
          }
        }
        users.push_back(std::move(user));
      }
    } catch (const detail::service_bad_request& e) {
      throw std::invalid_argument(std::string("invalid seed: ") + e.what());
    }
    std::size_t created = 0;
    const auto check = [](auto r) {
      if (!r) throw std::runtime_error(fmt::format("seed: the store failed: {}", r.error().message));
      return std::move(r).value();
    };
    for (const auto& user : users) {
      if (check(store_.balance(user.user_id))) continue;  // exists already (e.g. restored from the state file)
      for (const auto& c : user.credentials)
        if (auto found = check(store_.find_credential(c.key)); found && found->user_id != user.user_id)
          throw std::invalid_argument(fmt::format("invalid seed: a credential of '{}' belongs to '{}' already", user.user_id, found->user_id));
      if (!check(store_.add_user(user.user_id, user.balance))) continue;
      for (const auto& c : user.credentials) (void)check(store_.register_credential(c.key, user.user_id, c.is_public));
      log_.info("seed: user {} created with balance {} and {} credential(s)", user.user_id, user.balance, user.credentials.size());
      ++created;
    }
    save();
    return created;
  }

  /// Makes every change so far durable (a no-op without a state file). Throws std::runtime_error
  /// (detail::journal_failed) when the journal cannot be written.
  void save() {
    if (memory_) memory_->save();
  }

  /// Writes a snapshot of the whole state now and starts a new journal segment (done on its own
  /// when a segment grows past `compact_after_bytes`). Throws std::runtime_error on failure.
  void snapshot() {
    if (memory_) memory_->snapshot();
  }

  /// The durable store, or nullptr without a state file (for tests and statistics).
  [[nodiscard]] detail::state_store* store() noexcept { return memory_ ? memory_->state() : nullptr; }
  [[nodiscard]] const detail::state_store* store() const noexcept { return memory_ ? memory_->state() : nullptr; }

 private:
  std::unique_ptr<memory_credit_store> make_memory_store(memory_ledger_options ledger_options) {
    check_token();  // before a state file is opened
    return std::make_unique<memory_credit_store>(std::move(ledger_options), options_.state_file, options_.compact_after_bytes, log_);
  }
  void check_token() const {
    if (token_.empty()) throw std::invalid_argument("tollgate::credit_service: a bearer token is required");
  }

  [[nodiscard]] std::size_t credential_max_length() const noexcept { return options_.max_id_length * 4; }

  // Wraps a route: auth, then the route; every failure becomes the contract's {"error": …} body.
  template <class Route>
  httplib::Server::Handler route(bool needs_token, Route r) {
    return [this, needs_token, r = std::move(r)](const httplib::Request& req, httplib::Response& res) {
      detail::service_reply reply;
      try {
        if (needs_token && !authorized(req)) {
          reply = detail::service_error(401, "missing or invalid bearer token");
          res.set_header("WWW-Authenticate", "Bearer");
        } else {
          reply = r(req);
          // The reply goes out only once every change it may reflect is durable: a change that is
          // acknowledged (or seen) is never lost by a crash. Changes of concurrent requests share
          // the fdatasync (group commit).
          store_.wait_durable();
        }
      } catch (const detail::service_bad_request& e) {
        reply = detail::service_error(400, e.what());
      } catch (const detail::service_save_failed& e) {
        log_.error("credit service: state not saved: {}", e.what());
        reply = detail::service_error(500, "the change was applied but could not be saved; retry the same request");
      } catch (const std::exception& e) {
        log_.error("credit service: {} {} failed: {}", req.method, req.path, e.what());
        reply = detail::service_error(500, "internal error");
      }
      write(res, reply);
    };
  }

  static void write(httplib::Response& res, const detail::service_reply& reply) {
    res.status = reply.status;
    if (reply.status == 503) res.set_header("Retry-After", "1");
    res.set_content(detail::dump_json(reply.body), "application/json");
  }

  [[nodiscard]] bool authorized(const httplib::Request& req) const {
    const std::string header = req.get_header_value("Authorization");  // owns what the view points into
    const auto token = detail::bearer_token(header);
    return token && detail::token_equal(token_.reveal(), *token);
  }

  // The contract's status, plus the ledger's own case in "code" (an addition the original lacks):
  // several cases share a status, and a client should not have to read the message to tell them apart.
  detail::service_reply from_ledger_error(const ledger_error& e, int not_found_status = 404) const {
    int status = 500;
    switch (e.code) {
      case ledger_errc::insufficient_funds:
      case ledger_errc::invalid_amount:
      case ledger_errc::conflicting_settlement: status = 400; break;
      case ledger_errc::unknown_credential:
      case ledger_errc::lock_not_found: status = not_found_status; break;
      case ledger_errc::unavailable: status = 503; break;  // the store (Redis) is out of reach: retry later
      default: break;
    }
    if (status == 500) {  // the store's own words (addresses, script errors) stay in the log
      log_.error("credit service: the store failed: {}: {}", to_string(e.code), e.message);
      return detail::service_error(500, "internal error: the credit store failed (see the server's log)");
    }
    auto reply = detail::service_error(status, e.message);
    reply.body["code"] = to_string(e.code);
    return reply;
  }

  // --- routes -----------------------------------------------------------------------------------

  detail::service_reply lock(const httplib::Request& req, bool public_path) {
    const auto body = detail::parse_object_body(req.body);
    const std::string credential = detail::string_field(body, "credential", credential_max_length());
    const credits amount = detail::amount_field(body, "amount");
    std::string key = req.get_header_value("Idempotency-Key");
    if (!key.empty()) detail::check_identifier("Idempotency-Key", key, options_.max_id_length);
    if (body.contains("idempotency_key") && !body["idempotency_key"].is_null()) {
      std::string field = detail::string_field(body, "idempotency_key", options_.max_id_length);
      if (!key.empty() && field != key)
        throw detail::service_bad_request("the Idempotency-Key header and the 'idempotency_key' field disagree");
      key = std::move(field);
    }
    // Public ids and secret keys live apart: on the wrong path a credential does not exist.
    const auto found = store_.find_credential(credential);
    if (!found) return from_ledger_error(found.error());
    if (!*found || (*found)->is_public != public_path) return detail::service_error(404, "user or credential not found");
    const std::string& owner = (*found)->user_id;
    // Keys are scoped to the user, so one user's key can never answer another user's lock.
    const std::string ledger_key = key.empty() ? detail::random_id("ik_") : owner + '\n' + key;
    auto grant = store_.lock(credential, amount, ledger_key);
    if (!grant) {
      log_.debug("lock refused: user {} amount {} credential {}: {}", owner, amount, redacted(credential), grant.error().message);
      return from_ledger_error(grant.error());
    }
    if (grant->amount != amount)
      return detail::service_error(409, fmt::format("this idempotency key was first used for a lock of {} credits, not {}",
                                                    grant->amount, amount));
    log_.info("lock {}: user {} amount {} credential {}{}", grant->lock_id, owner, amount, redacted(credential),
              public_path ? " (public)" : "");
    return {200, {{"lock_id", grant->lock_id}, {"amount", grant->amount}}};
  }

  detail::service_reply unlock(const httplib::Request& req) {
    const auto body = detail::parse_object_body(req.body);
    // Redis lock ids carry the user id in base64url: longer than the ids themselves.
    const std::string lock_id = detail::string_field(body, "lock_id", credential_max_length());
    const credits real_cost = detail::amount_field(body, "real_cost");
    auto settled = store_.settle(lock_id, real_cost);
    if (!settled) return from_ledger_error(settled.error());
    // (The route waits for durability, also on a replay: an earlier save of this settle may have failed.)
    log_.info("unlock {}: charged {}{}", lock_id, settled->charged, settled->replayed ? " (replayed)" : "");
    return {200, {{"lock_id", lock_id}, {"charged", settled->charged}, {"replayed", settled->replayed}}};
  }

  detail::service_reply summary() {
    const auto s = store_.summary();
    if (!s) return from_ledger_error(s.error());
    nlohmann::json users = nlohmann::json::array(), locks = nlohmann::json::array();
    for (const auto& u : s->users) users.push_back({{"user_id", u.user_id}, {"balance", u.available}, {"held", u.held}});
    for (const auto& l : s->locks)
      locks.push_back({{"lock_id", l.lock_id}, {"user_id", l.user_id}, {"amount", l.amount},
                       {"expires_in_seconds", static_cast<double>(l.expires_in.count()) / 1000.0}});
    return {200, {{"users", std::move(users)}, {"locks", std::move(locks)}}};
  }

  detail::service_reply create_user(const httplib::Request& req) {
    const auto body = detail::parse_object_body(req.body);
    const std::string user_id = detail::string_field(body, "user_id", options_.max_id_length);
    const credits balance = detail::amount_field(body, "balance");
    const auto added = store_.add_user(user_id, balance);
    if (!added) return from_ledger_error(added.error());
    if (!*added) return detail::service_error(409, fmt::format("user '{}' already exists", user_id));
    log_.info("user {} created with balance {}", user_id, balance);
    return {200, {{"user_id", user_id}, {"balance", balance}}};
  }

  detail::service_reply get_user(const httplib::Request& req) {
    const std::string user_id = req.matches[1];
    detail::check_identifier("user_id", user_id, options_.max_id_length);
    const auto balance = store_.balance(user_id);
    if (!balance) return from_ledger_error(balance.error());
    if (!*balance) return detail::service_error(404, fmt::format("user '{}' not found", user_id));
    return {200, {{"user_id", user_id}, {"balance", **balance}}};
  }

  detail::service_reply top_up(const httplib::Request& req) {
    const auto body = detail::parse_object_body(req.body);
    const std::string user_id = detail::string_field(body, "user_id", options_.max_id_length);
    const credits amount = detail::amount_field(body, "amount");
    auto balance = store_.top_up(user_id, amount);
    if (!balance) {
      if (balance.error().code == ledger_errc::unknown_credential)
        return detail::service_error(404, fmt::format("user '{}' not found", user_id));
      return from_ledger_error(balance.error());
    }
    log_.info("top-up: user {} +{} = {}", user_id, amount, *balance);
    return {200, {{"user_id", user_id}, {"new_balance", *balance}}};
  }

  detail::service_reply create_credential(const httplib::Request& req) {
    const auto body = detail::parse_object_body(req.body);
    const std::string user_id = detail::string_field(body, "user_id", options_.max_id_length);
    const std::string key = detail::string_field(body, "credential_key", credential_max_length());
    const bool public_id = detail::bool_field(body, "is_public", false);
    const auto user = store_.balance(user_id);  // users are never removed: checking first is safe
    if (!user) return from_ledger_error(user.error());
    if (!*user) return detail::service_error(404, fmt::format("user '{}' not found", user_id));
    const auto made = store_.register_credential(key, user_id, public_id);
    if (!made) return from_ledger_error(made.error());
    const service_credential& c = made->credential;
    if (c.user_id != user_id) return detail::service_error(409, "credential already registered to another user");
    if (c.is_public != public_id) return detail::service_error(409, fmt::format("credential already registered with is_public={}", c.is_public));
    if (made->created)
      log_.info("credential {} ({}) registered for user {}: {}", c.credential_id, public_id ? "public" : "private", user_id, redacted(key));
    return {200, {{"credential_id", c.credential_id}, {"user_id", user_id}, {"is_public", c.is_public}}};
  }

  redacted token_;
  logger log_;
  credit_service_options options_;
  std::unique_ptr<memory_credit_store> memory_;  // when the service serves a memory ledger
  credit_store& store_;
};

}  // namespace tollgate

#endif  // TOLLGATE_SERVICE_CREDIT_SERVICE_HPP
