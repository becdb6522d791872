// SPDX-License-Identifier: MIT
// redis_ledger: the ledger concept on Redis (hiredis), shared by every API server that points at it.
#ifndef TOLLGATE_LEDGERS_REDIS_LEDGER_HPP
#define TOLLGATE_LEDGERS_REDIS_LEDGER_HPP

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/credits.hpp>
#include <tollgate/detail/digest.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_summary.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/redis/client.hpp>
#include <tollgate/redis/credential_cache.hpp>
#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/ledger_calls.hpp>
#include <tollgate/redis/ledger_scripts.hpp>
#include <tollgate/redis/lock_id.hpp>

namespace tollgate {

/// Settings of a redis_ledger.
struct redis_ledger_options {
  /// `redis://[user:password@]host:port[/db]`; any node of a Redis Cluster works too.
  std::string url = "redis://127.0.0.1:6379";
  /// Every key starts with this (no glob characters): `<prefix>:{user}:account`, `<prefix>:cred:<sha256>`.
  std::string key_prefix = "tg";
  /// How long a lock holds funds before they return on their own (Redis's clock, not ours).
  std::chrono::milliseconds lock_ttl = std::chrono::minutes(5);
  /// How long a closed lock is remembered after its TTL would have ended, so a repeated settle or
  /// lock request answers the first result (durable_ledger's replays after a restart need this).
  std::chrono::milliseconds retention_grace = std::chrono::minutes(5);
  /// Whether settle may charge more than the hold when the available balance covers it.
  bool allow_overage = false;
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds command_timeout{1'000};  ///< bounds a hung Redis: each read and write of a call
  std::size_t max_idle_connections = 64;
  std::size_t breaker_failures = 5;                   ///< consecutive failures that open the circuit
  std::chrono::milliseconds breaker_open_for{1'000};  ///< the longest the circuit stays open
  /// How long a credential → user mapping is trusted without asking Redis: what makes a lock one
  /// round trip. A revoked credential works this long on an API server that used it. 0: no cache.
  std::chrono::milliseconds credential_cache_ttl{30'000};
  std::size_t credential_cache_size = 100'000;  ///< entries; the cache starts over when full
  /// Every this long, a background thread returns expired holds of users who made no call since
  /// (a user's own calls return theirs anyway). 0: no thread; call sweep() yourself.
  std::chrono::milliseconds sweep_every = std::chrono::minutes(1);
  /// Closed locks forgotten and expired holds returned per script call, at most: bounds one call.
  std::size_t reap_limit = 100;
  logger log{};

  /// From REDIS_URL (default redis://127.0.0.1:6379) and LOCK_TTL_SECONDS.
  [[nodiscard]] static redis_ledger_options from_environment() {
    redis_ledger_options o;
    if (const char* url = std::getenv("REDIS_URL"); url != nullptr && *url != '\0') o.url = url;
    if (const char* ttl = std::getenv("LOCK_TTL_SECONDS"); ttl != nullptr && *ttl != '\0') {
      const auto seconds = credits::parse(ttl);  // an exact decimal parser, reused for seconds
      if (!seconds || seconds->micros() <= 0) throw redis::url_error("LOCK_TTL_SECONDS must be a number of seconds above 0");
      o.lock_ttl = std::chrono::milliseconds(std::max<std::int64_t>(1, seconds->micros() / 1000));
    }
    return o;
  }
};

/// What register_credential found or made.
struct credential_registration {
  credential_record record;
  bool created = false;  ///< made by this call (else: registered before, maybe to someone else)
};

/// Credits on Redis. Each user's account, locks and idempotency keys share the hash tag `{user}`,
/// so each lock and each settle is one Lua script on one node: one round trip that checks and
/// changes everything atomically (no check-then-act between API servers), on one Redis or on a
/// Redis Cluster. Time comes from Redis. A lock id names its user (and a nonce), so a settle needs no lookup;
/// a credential's owner is looked up once and cached (`credential_cache_ttl`).
///
///     tollgate::redis_ledger ledger{{.url = "redis://127.0.0.1:6379"}};
///     ledger.add_user("alice", 100_cr);
///     ledger.add_credential("sk-alice-1", "alice");
///     auto grant = ledger.lock("sk-alice-1", 5_cr, "request-42");   // any API server
///     ledger.settle(grant->lock_id, 1.25_cr);                         // any API server
///
/// Amounts are limited to `max_amount` (2^53 - 1 micro-credits, about 9 billion credits): Lua
/// counts in doubles, exact up to there. A larger amount, or a balance that would pass it, is
/// invalid_amount, never a rounding.
class redis_ledger {
 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "redis";  ///< the `ledger` label of its metrics
  static constexpr credits max_amount = redis::max_ledger_amount;

  explicit redis_ledger(redis_ledger_options options = {})
      : options_(std::move(options)), client_(redis::endpoint::parse(options_.url), client_options(options_)) {
    if (options_.key_prefix.find_first_of("*?[]\\{}") != std::string::npos)
      throw redis::url_error("the Redis key prefix must not contain glob characters or braces");
    if (options_.lock_ttl.count() <= 0) throw redis::url_error("the Redis ledger's lock TTL must be above 0");
    if (options_.sweep_every.count() > 0) sweeper_ = std::thread([this] { sweep_loop(); });
  }
  redis_ledger(const redis_ledger&) = delete;
  redis_ledger& operator=(const redis_ledger&) = delete;
  ~redis_ledger() {
    {
      std::lock_guard guard(sweep_mutex_);
      stopping_ = true;
    }
    sweep_wake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
  }

  // --- the ledger concept -------------------------------------------------------------------

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) {
    if (auto invalid = redis::invalid_lock_amount(amount)) return *std::move(invalid);
    auto user = owner_of(credential);
    if (!user) return user.error();
    if (!*user) return redis::unknown_credential();
    const redis::lock_request request(options_.key_prefix, std::move(**user), amount, idempotency_key);
    auto answer = client_.eval(redis::ledger_scripts::lock(), request.keys.all(), request.args(settings_), request.retry_safe());
    if (!answer) return answer.error();
    auto grant = redis::read_lock_answer(**answer, request);
    if (!grant && grant.error().code == ledger_errc::unknown_credential) credentials_.forget(credential);
    return grant;
  }

  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    auto request = redis::settle_request::make(options_.key_prefix, lock_id, real_cost);
    if (!request) return request.error();
    // A settle replays: safe to resend.
    auto answer = client_.eval(redis::ledger_scripts::settle(), request->keys().all(), request->args(settings_), true);
    if (!answer) return answer.error();
    return redis::read_settle_answer(**answer, real_cost);
  }

  result<settlement> release(std::string_view lock_id) { return settle(lock_id, credits{}); }

  /// True when Redis answers PING in time.
  [[nodiscard]] bool health() {
    static constexpr std::array<std::string_view, 1> ping{"PING"};
    auto answer = client_.run(ping, {}, true);
    return answer && !redis::is_error(**answer);
  }

  // --- administration (the same store; operators need no other tool) ---------------------------

  /// Adds a user with a balance; false when the user exists already (its balance is left alone).
  result<bool> add_user(std::string_view user_id, credits balance) {
    if (user_id.empty()) return ledger_error{ledger_errc::misconfigured, "a user id must not be empty"};
    // "{}x}" would make the hash tag of "<prefix>:{}x}:account" empty: each key would hash whole,
    // to slots of their own, and no script could touch them together on a cluster.
    if (user_id.front() == '}') return ledger_error{ledger_errc::misconfigured, "a user id must not start with '}' (a Redis hash tag)"};
    if (balance.is_negative() || balance > max_amount)
      return ledger_error{ledger_errc::invalid_amount, fmt::format("a balance must be between 0 and {}", max_amount)};
    const user_keys keys(options_.key_prefix, user_id);
    const std::string balance_text = std::to_string(balance.micros());
    const std::array<std::string_view, 1> args{balance_text};
    auto answer = client_.eval(redis::ledger_scripts::add_user(), keys.all(), args, true);
    if (!answer) return answer.error();
    if (redis::is_error(**answer) || (**answer).type != REDIS_REPLY_INTEGER) return unexpected(**answer);
    return (**answer).integer == 1;
  }

  /// Maps a credential (API key, public id, or the user id itself) to its owner; a user may have
  /// many. Redis stores only the credential's SHA-256. False when the user is unknown or the
  /// credential belongs to someone else already.
  result<bool> add_credential(std::string_view credential, std::string_view user_id) {
    auto known = balances(user_id);
    if (!known) {
      if (known.error().code == ledger_errc::unknown_credential) return false;
      return known.error();
    }
    auto made = register_credential(credential, user_id);
    if (!made) return made.error();
    return made->record.user_id == user_id;
  }

  /// Registers `credential` for `user_id` (who must exist: see add_credential) with an id and a
  /// public flag for services that need them, unless it is registered already: answers the
  /// registration as it stands, and whether this call made it. Atomic, so two API servers
  /// registering one credential at once agree on its owner.
  result<credential_registration> register_credential(std::string_view credential, std::string_view user_id, bool is_public = false,
                                                      std::string_view credential_id = {}) {
    const std::string key = credential_key(credential);
    const std::array<std::string_view, 1> keys{key};
    const std::array<std::string_view, 3> args{user_id, credential_id, is_public ? "1" : "0"};
    auto answer = client_.eval(redis::ledger_scripts::register_credential(), keys, args, true);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (redis::is_error(r) || r.type != REDIS_REPLY_ARRAY || r.elements != 4) return unexpected(r);
    credential_registration out{{std::string(text_at(r, 1)), std::string(text_at(r, 2)), text_at(r, 3) == "1"}, int_at(r, 0) == 1};
    remember(credential, out.record);
    return out;
  }

  /// The registration of a credential, or nullopt. Cached for `credential_cache_ttl`.
  result<std::optional<credential_record>> find_credential(std::string_view credential) {
    if (auto hit = credentials_.find(credential)) return hit;
    const redis::credential_lookup lookup(options_.key_prefix, credential);
    auto answer = client_.run(lookup.command(), lookup.key, true);
    if (!answer) return answer.error();
    auto found = redis::read_credential_answer(**answer);
    if (found && *found) credentials_.remember(credential, **found);
    return found;
  }

  /// The user owning a credential, or nullopt.
  result<std::optional<std::string>> owner_of(std::string_view credential) {
    auto found = find_credential(credential);
    if (!found) return found.error();
    if (!*found) return std::optional<std::string>{};
    return std::optional<std::string>{std::move((*found)->user_id)};
  }

  /// Adds to a user's available balance; returns the new available balance.
  result<credits> top_up(std::string_view user_id, credits amount) {
    if (amount.is_negative() || amount > max_amount) return ledger_error{ledger_errc::invalid_amount, "a top-up must be between 0 and the largest amount"};
    const user_keys keys(options_.key_prefix, user_id);
    const std::string amount_text = std::to_string(amount.micros()), limit_text = std::to_string(max_amount.micros());
    const std::array<std::string_view, 4> args{amount_text, limit_text, grace_text_, reap_text_};
    // Not resent on a lost answer: a top-up is not idempotent.
    auto answer = client_.eval(redis::ledger_scripts::top_up(), keys.all(), args, false);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (redis::is_error(r)) return script_failure(r);
    const std::string_view status = text_at(r, 0);
    if (status == "ok") return credits::from_micros(int_at(r, 1));
    if (status == "unknown_credential") return ledger_error{ledger_errc::unknown_credential, "user not found"};
    if (status == "invalid_amount") return ledger_error{ledger_errc::invalid_amount, "the balance would pass the largest amount"};
    return unexpected(r);
  }

  /// A user's balances (expired holds returned first), or unknown_credential.
  result<user_balance> balances(std::string_view user_id) {
    auto answer = run_balance(user_id, options_.reap_limit);
    if (!answer) return answer.error();
    return user_balance{std::string(user_id), credits::from_micros(int_at(**answer, 1)), credits::from_micros(int_at(**answer, 2))};
  }

  /// A user's available balance, or unknown_credential.
  result<credits> balance(std::string_view user_id) {
    auto b = balances(user_id);
    if (!b) return b.error();
    return b->available;
  }

  /// Every user's balances and the open locks, walking the keyspace (SCAN, node by node): for
  /// operators, not for the request path.
  result<ledger_summary> summary() {
    ledger_summary out;
    auto users = scan_users("account");
    if (!users) return users.error();
    for (const auto& user : *users) {
      auto b = balances(user);
      if (!b) {
        if (b.error().code == ledger_errc::unknown_credential) continue;  // removed meanwhile
        return b.error();
      }
      out.users.push_back(std::move(*b));
      const user_keys keys(options_.key_prefix, user);
      const std::array<std::string_view, 2> args{grace_text_, reap_text_};
      auto locks = client_.eval(redis::ledger_scripts::open_locks(), keys.all(), args, true);
      if (!locks) return locks.error();
      const redisReply& r = **locks;
      if (r.type != REDIS_REPLY_ARRAY) return unexpected(r);
      for (std::size_t i = 0; i + 3 < r.elements; i += 4)
        out.locks.push_back({redis::format_lock_id(text_at(r, i), text_at(r, i + 1), user), user, credits::from_micros(int_at(r, i + 2)),
                             std::chrono::milliseconds(int_at(r, i + 3))});
    }
    std::sort(out.users.begin(), out.users.end(), [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
    std::sort(out.locks.begin(), out.locks.end(), [](const auto& a, const auto& b) { return a.lock_id < b.lock_id; });
    return out;
  }

  /// Returns every expired hold to its user, whoever made the lock (a crashed API server's too);
  /// answers how many holds came back. The background sweep (`sweep_every`) calls this.
  result<std::size_t> sweep() {
    auto users = scan_users("open");
    if (!users) return users.error();
    std::size_t returned = 0;
    for (const auto& user : *users) {
      constexpr std::size_t batch = 1000;
      for (;;) {
        auto answer = run_balance(user, batch);
        if (!answer) {
          if (answer.error().code == ledger_errc::unknown_credential) break;
          return answer.error();
        }
        const auto n = static_cast<std::size_t>(int_at(**answer, 4));
        returned += n;
        if (n < batch) break;
      }
    }
    return returned;
  }

  [[nodiscard]] bool circuit_open() const { return client_.circuit_open(); }
  [[nodiscard]] redis::client& client() noexcept { return client_; }
  [[nodiscard]] const redis_ledger_options& options() const noexcept { return options_; }
  /// The credential → owner cache; asio::redis_ledger's async forms share it.
  [[nodiscard]] redis::credential_cache& credentials() noexcept { return credentials_; }
  /// The arguments every script call repeats, rendered from the options.
  [[nodiscard]] const redis::script_settings& settings() const noexcept { return settings_; }

 private:
  using user_keys = redis::user_keys;

  static redis::client_options client_options(const redis_ledger_options& o) {
    redis::client_options c;
    c.connections.connect_timeout = o.connect_timeout;
    c.connections.command_timeout = o.command_timeout;
    c.connections.max_idle = o.max_idle_connections;
    c.breaker_failures = o.breaker_failures;
    c.breaker_open_for = o.breaker_open_for;
    return c;
  }

  std::string credential_key(std::string_view credential) const { return redis::credential_key(options_.key_prefix, credential); }
  void remember(std::string_view credential, const credential_record& record) { credentials_.remember(credential, record); }

  result<redis::reply> run_balance(std::string_view user_id, std::size_t limit) {
    const user_keys keys(options_.key_prefix, user_id);
    const std::string limit_text = std::to_string(limit);
    const std::array<std::string_view, 2> args{grace_text_, limit_text};
    auto answer = client_.eval(redis::ledger_scripts::balance(), keys.all(), args, true);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (redis::is_error(r)) return script_failure(r);
    if (text_at(r, 0) == "unknown_credential") return ledger_error{ledger_errc::unknown_credential, "user not found"};
    if (text_at(r, 0) != "ok" || r.elements < 5) return unexpected(r);
    return answer;
  }

  // The users that have a `<suffix>` key, from every master (SCAN: no long-blocking KEYS).
  result<std::vector<std::string>> scan_users(std::string_view suffix) {
    auto masters = client_.masters();
    if (!masters) return masters.error();
    const std::string pattern = fmt::format("{}:{{*}}:{}", options_.key_prefix, suffix);
    const std::string head = options_.key_prefix + ":{", tail = fmt::format("}}:{}", suffix);
    std::vector<std::string> users;
    for (const auto& node : *masters) {
      std::string cursor = "0";
      do {
        const std::array<std::string_view, 6> scan{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        auto answer = node->run(scan, true);
        if (!answer) return answer.error();
        const redisReply& r = **answer;
        if (r.type != REDIS_REPLY_ARRAY || r.elements != 2 || r.element[1]->type != REDIS_REPLY_ARRAY) return unexpected(r);
        cursor = std::string(redis::text_of(*r.element[0]));
        for (std::size_t i = 0; i < r.element[1]->elements; ++i) {
          const std::string_view key = redis::text_of(*r.element[1]->element[i]);
          if (key.size() > head.size() + tail.size() && key.starts_with(head) && key.ends_with(tail))
            users.emplace_back(key.substr(head.size(), key.size() - head.size() - tail.size()));
        }
      } while (cursor != "0");
    }
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    return users;
  }

  void sweep_loop() {
    std::unique_lock guard(sweep_mutex_);
    while (!sweep_wake_.wait_for(guard, options_.sweep_every, [this] { return stopping_; })) {
      guard.unlock();
      if (auto n = sweep(); !n) {
        options_.log.warn("redis_ledger: sweep failed: {}", n.error().message);
      } else if (*n > 0) {
        options_.log.info("redis_ledger: sweep returned {} expired holds", *n);
      }
      guard.lock();
    }
  }

  static std::string_view text_at(const redisReply& r, std::size_t i) { return redis::text_at(r, i); }
  static std::int64_t int_at(const redisReply& r, std::size_t i) { return redis::int_at(r, i); }
  static ledger_error script_failure(const redisReply& r) { return redis::script_failure(r); }
  static ledger_error unexpected(const redisReply& r) { return redis::unexpected_reply(r); }

  redis_ledger_options options_;
  redis::client client_;
  const redis::script_settings settings_{options_.lock_ttl, options_.retention_grace, options_.reap_limit, options_.allow_overage};
  const std::string& grace_text_ = settings_.grace;
  const std::string& reap_text_ = settings_.reap;
  redis::credential_cache credentials_{options_.credential_cache_ttl, options_.credential_cache_size};
  std::mutex sweep_mutex_;
  std::condition_variable sweep_wake_;
  bool stopping_ = false;
  std::thread sweeper_;  // last: started once everything it uses exists
};
static_assert(ledger<redis_ledger>);

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_REDIS_LEDGER_HPP
