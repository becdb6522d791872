// SPDX-License-Identifier: MIT
// redis_usage_store: the usage_store concept on Redis, one Lua script per call, shared by every API server.
#ifndef TOLLGATE_USAGE_REDIS_USAGE_STORE_HPP
#define TOLLGATE_USAGE_REDIS_USAGE_STORE_HPP

#include <array>
#include <chrono>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/detail/digest.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/redis/client.hpp>
#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/script.hpp>
#include <tollgate/usage/usage_store.hpp>

namespace tollgate {

/// Settings of a redis_usage_store.
struct redis_usage_store_options {
  /// `redis://[user:password@]host:port[/db]`; any node of a Redis Cluster works too.
  std::string url = "redis://127.0.0.1:6379";
  /// Every key starts with this (no glob characters or braces): `<prefix>:{<tenant digest>}:usage`.
  std::string key_prefix = "tg";
  /// How long an idempotency key is remembered (Redis's clock: PX on the key).
  std::chrono::milliseconds key_ttl = std::chrono::hours(24);
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds command_timeout{1'000};  ///< bounds a hung Redis
  std::size_t max_idle_connections = 64;
  std::size_t breaker_failures = 5;                   ///< consecutive failures that open the circuit
  std::chrono::milliseconds breaker_open_for{1'000};  ///< the longest the circuit stays open
};

namespace detail {
// Each script reads and writes one tenant's keys, which share a hash tag: one node, one atomic step.
// Counts are integers below 2^53 (Lua's numbers are doubles, exact up to there); HINCRBY keeps them
// integers in Redis.
inline const redis::script& usage_acquire_script() {
  // KEYS: counters hash, acquire key. ARGV: limit, n, max (-1: unlimited), key TTL in ms.
  static const redis::script s(R"lua(
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if redis.call('EXISTS', KEYS[2]) == 1 then return {1, 1, used} end
local n = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local after = used + n
if after > 9007199254740991 then return {0, 0, used} end
if max >= 0 and after > max then return {0, 0, used} end
if n == 0 then return {1, 0, used} end
redis.call('HINCRBY', KEYS[1], ARGV[1], n)
redis.call('SET', KEYS[2], n, 'PX', ARGV[4])
return {1, 0, after}
)lua");
  return s;
}
inline const redis::script& usage_release_script() {
  // KEYS: counters hash, release key. ARGV: limit, n, key TTL in ms.
  static const redis::script s(R"lua(
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if redis.call('EXISTS', KEYS[2]) == 1 then return {1, used} end
local after = used - tonumber(ARGV[2])
if after <= 0 then
  after = 0
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], after - used)
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {0, after}
)lua");
  return s;
}
inline const redis::script& usage_cancel_script() {
  // KEYS: counters hash, acquire key. ARGV: limit.
  static const redis::script s(R"lua(
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local units = redis.call('GET', KEYS[2])
if not units then return {1, used} end
redis.call('DEL', KEYS[2])
local after = used - tonumber(units)
if after <= 0 then
  after = 0
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], after - used)
end
return {0, after}
)lua");
  return s;
}
}  // namespace detail

/// Usage counts on Redis, shared by every API server pointing at it. Each call is one Lua script
/// over one tenant's keys (they share a hash tag), so the check and the change are one atomic step
/// on one node: concurrent creates on any number of servers never pass the maximum. Tenants and
/// limits appear in keys only as digests (a tenant id may hold any byte, braces included).
/// It uses tollgate's Redis client (connection pool, Cluster routing, circuit breaker): its own,
/// or one shared with other Redis components.
///
///     tollgate::redis_usage_store store{{.url = "redis://127.0.0.1:6379", .key_prefix = "app"}};
///     auto got = store.try_acquire("org-1", "deployments", 1, /*max=*/5, "create-42");
class redis_usage_store {
 public:
  using usage_store_concept = usage_store_t;
  /// The largest count it keeps exactly (2^53 - 1).
  static constexpr std::int64_t max_units = (std::int64_t{1} << 53) - 1;

  explicit redis_usage_store(redis_usage_store_options options = {})
      : redis_usage_store(options, std::make_shared<redis::client>(redis::endpoint::parse(options.url), client_options(options))) {}
  /// Shares `client` (its connections and breaker) with other Redis components.
  redis_usage_store(redis_usage_store_options options, std::shared_ptr<redis::client> client)
      : options_(std::move(options)), client_(std::move(client)), ttl_text_(std::to_string(options_.key_ttl.count())) {
    if (options_.key_prefix.find_first_of("*?[]\\{}") != std::string::npos)
      throw redis::url_error("the Redis key prefix must not contain glob characters or braces");
    if (options_.key_ttl.count() <= 0) throw redis::url_error("the usage store's key TTL must be above 0");
  }

  result<acquisition> try_acquire(std::string_view tenant, std::string_view limit, std::int64_t n, limit_value max, std::string_view key) {
    if (auto bad = check_units(n)) return *std::move(bad);
    const keys k(options_.key_prefix, tenant, limit, 'a', key);
    const std::string n_text = std::to_string(n);
    // A maximum past what Lua counts exactly cannot be reached anyway: the same as none.
    const std::string max_text = max.is_unlimited() || max.max() > max_units ? "-1" : std::to_string(max.max());
    const std::array<std::string_view, 4> args{limit, n_text, max_text, ttl_text_};
    auto answer = client_->eval(detail::usage_acquire_script(), k.all(), args, true);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (!is_int_array(r, 3)) return unexpected(r);
    return acquisition{r.element[0]->integer == 1, r.element[1]->integer == 1, r.element[2]->integer};
  }

  result<usage_release> release(std::string_view tenant, std::string_view limit, std::int64_t n, std::string_view key) {
    if (auto bad = check_units(n)) return *std::move(bad);
    const keys k(options_.key_prefix, tenant, limit, 'r', key);
    const std::string n_text = std::to_string(n);
    const std::array<std::string_view, 3> args{limit, n_text, ttl_text_};
    return change(detail::usage_release_script(), k, args);
  }

  result<usage_release> cancel(std::string_view tenant, std::string_view limit, std::string_view key) {
    const keys k(options_.key_prefix, tenant, limit, 'a', key);
    const std::array<std::string_view, 1> args{limit};
    return change(detail::usage_cancel_script(), k, args);
  }

  result<std::int64_t> usage(std::string_view tenant, std::string_view limit) {
    const std::string counters = counters_key(options_.key_prefix, tenant);
    const std::array<std::string_view, 3> argv{"HGET", counters, limit};
    auto answer = client_->run(argv, counters, true);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (r.type == REDIS_REPLY_NIL) return std::int64_t{0};
    std::int64_t value = 0;
    const std::string_view text = r.type == REDIS_REPLY_STRING ? std::string_view(r.str, r.len) : std::string_view{};
    if (text.empty() || std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) return unexpected(r);
    return value;
  }

  /// True when Redis answers PING in time.
  [[nodiscard]] bool health() {
    static constexpr std::array<std::string_view, 1> ping{"PING"};
    auto answer = client_->run(ping, {}, true);
    return answer && !redis::is_error(**answer);
  }

 private:
  // A tenant's counters (a hash: limit → units) and one idempotency key, under one hash tag.
  struct keys {
    keys(std::string_view prefix, std::string_view tenant, std::string_view limit, char kind, std::string_view key)
        : counters(counters_key(prefix, tenant)),
          idempotency(fmt::format("{}:{}:{}", counters, kind,
                                  detail::sha256_hex(fmt::format("{}:{}{}", limit.size(), limit, key)))) {}
    std::string counters;
    std::string idempotency;
    [[nodiscard]] std::array<std::string_view, 2> all() const { return {counters, idempotency}; }
  };

  static std::string counters_key(std::string_view prefix, std::string_view tenant) {
    return fmt::format("{}:{{{}}}:usage", prefix, detail::sha256_hex(tenant));
  }

  template <std::size_t N>
  result<usage_release> change(const redis::script& script, const keys& k, const std::array<std::string_view, N>& args) {
    auto answer = client_->eval(script, k.all(), args, true);
    if (!answer) return answer.error();
    const redisReply& r = **answer;
    if (!is_int_array(r, 2)) return unexpected(r);
    return usage_release{r.element[0]->integer == 1, r.element[1]->integer};
  }

  static std::optional<ledger_error> check_units(std::int64_t n) {
    if (n >= 0 && n <= max_units) return std::nullopt;
    return ledger_error{ledger_errc::invalid_amount, fmt::format("a number of units must be between 0 and {} (got {})", max_units, n)};
  }
  static bool is_int_array(const redisReply& r, std::size_t size) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements != size) return false;
    for (std::size_t i = 0; i < size; ++i)
      if (r.element[i]->type != REDIS_REPLY_INTEGER) return false;
    return true;
  }
  static ledger_error unexpected(const redisReply& r) {
    if (redis::is_error(r)) return ledger_error{ledger_errc::misconfigured, fmt::format("Redis refused a usage script: {}", redis::text_of(r))};
    return ledger_error{ledger_errc::misconfigured, "unexpected reply from Redis to a usage call"};
  }
  static redis::client_options client_options(const redis_usage_store_options& o) {
    redis::client_options c;
    c.connections.connect_timeout = o.connect_timeout;
    c.connections.command_timeout = o.command_timeout;
    c.connections.max_idle = o.max_idle_connections;
    c.breaker_failures = o.breaker_failures;
    c.breaker_open_for = o.breaker_open_for;
    return c;
  }

  redis_usage_store_options options_;
  std::shared_ptr<redis::client> client_;
  std::string ttl_text_;
};
static_assert(usage_store<redis_usage_store>);

}  // namespace tollgate

#endif  // TOLLGATE_USAGE_REDIS_USAGE_STORE_HPP
