// SPDX-License-Identifier: MIT
// The Redis ledgers' calls as data: the keys and arguments of each script call and what its answer
// means. One definition for the blocking redis_ledger and the asynchronous asio::redis_ledger, so
// both speak the same protocol to the same keys.
#ifndef TOLLGATE_REDIS_LEDGER_CALLS_HPP
#define TOLLGATE_REDIS_LEDGER_CALLS_HPP

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/credits.hpp>
#include <tollgate/detail/digest.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/redis/connection_pool.hpp>
#include <tollgate/redis/credential_cache.hpp>
#include <tollgate/redis/lock_id.hpp>

namespace tollgate::redis {

/// The largest amount a Redis ledger takes: 2^53 - 1 micro-credits, where Lua's doubles stop being exact.
inline constexpr credits max_ledger_amount = credits::from_micros((std::int64_t{1} << 53) - 1);

/// One user's five keys, in the order the scripts take them (see ledger_scripts.hpp).
struct user_keys {
  user_keys(std::string_view prefix, std::string_view user)
      : account(fmt::format("{}:{{{}}}:account", prefix, user)),
        locks(fmt::format("{}:{{{}}}:locks", prefix, user)),
        open(fmt::format("{}:{{{}}}:open", prefix, user)),
        closed(fmt::format("{}:{{{}}}:closed", prefix, user)),
        keys(fmt::format("{}:{{{}}}:keys", prefix, user)),
        views{account, locks, open, closed, keys} {}
  user_keys(const user_keys&) = delete;
  user_keys& operator=(const user_keys&) = delete;
  [[nodiscard]] std::span<const std::string_view> all() const noexcept { return views; }
  std::string account, locks, open, closed, keys;
  std::array<std::string_view, 5> views;
};

/// The arguments every script call of one ledger repeats, rendered once.
struct script_settings {
  script_settings(std::chrono::milliseconds lock_ttl, std::chrono::milliseconds retention_grace, std::size_t reap_limit, bool overage)
      : ttl(std::to_string(lock_ttl.count())),
        grace(std::to_string(retention_grace.count())),
        reap(std::to_string(std::max<std::size_t>(1, reap_limit))),
        allow_overage(overage) {}
  std::string ttl, grace, reap;
  bool allow_overage = false;
};

/// Element `i` of an array reply as text (empty when absent).
[[nodiscard]] inline std::string_view text_at(const redisReply& r, std::size_t i) {
  if (r.type != REDIS_REPLY_ARRAY || i >= r.elements) return {};
  return text_of(*r.element[i]);
}
/// Element `i` of an array reply as an integer (0 when absent or not a number).
[[nodiscard]] inline std::int64_t int_at(const redisReply& r, std::size_t i) {
  if (r.type != REDIS_REPLY_ARRAY || i >= r.elements) return 0;
  const redisReply& e = *r.element[i];
  if (e.type == REDIS_REPLY_INTEGER) return e.integer;
  std::int64_t value = 0;
  const std::string_view text = text_of(e);
  (void)std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

[[nodiscard]] inline ledger_error lock_not_found() {
  return ledger_error{ledger_errc::lock_not_found, "lock not found (never issued, or forgotten after its retention)"};
}
[[nodiscard]] inline ledger_error script_failure(const redisReply& r) {
  return ledger_error{ledger_errc::misconfigured, fmt::format("the Redis ledger script failed: {}", text_of(r))};
}
[[nodiscard]] inline ledger_error unexpected_reply(const redisReply& r) {
  if (is_error(r)) return script_failure(r);
  return ledger_error{ledger_errc::misconfigured, fmt::format("unexpected reply from Redis (type {})", r.type)};
}

/// The key of a credential's registration: only its SHA-256 is stored.
[[nodiscard]] inline std::string credential_key(std::string_view prefix, std::string_view credential) {
  return fmt::format("{}:cred:{}", prefix, detail::sha256_hex(credential));
}

/// A credential lookup: `HMGET <credential key> user id public`.
struct credential_lookup {
  credential_lookup(std::string_view prefix, std::string_view credential) : key(credential_key(prefix, credential)) {}
  [[nodiscard]] std::array<std::string_view, 5> command() const noexcept { return {"HMGET", key, "user", "id", "public"}; }
  std::string key;
};

/// A credential lookup's answer: the registration, or nullopt when there is none.
[[nodiscard]] inline result<std::optional<credential_record>> read_credential_answer(const redisReply& r) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements != 3) return unexpected_reply(r);
  if (r.element[0]->type != REDIS_REPLY_STRING) return std::optional<credential_record>{};
  return std::optional<credential_record>{credential_record{std::string(text_at(r, 0)), std::string(text_at(r, 1)), text_at(r, 2) == "1"}};
}

[[nodiscard]] inline ledger_error unknown_credential() { return ledger_error{ledger_errc::unknown_credential, "user or credential not found"}; }

/// A lock's amount out of range, or nullopt.
[[nodiscard]] inline std::optional<ledger_error> invalid_lock_amount(credits amount) {
  if (amount.is_negative() || amount > max_ledger_amount)
    return ledger_error{ledger_errc::invalid_amount, fmt::format("a lock amount must be between 0 and {}", max_ledger_amount)};
  return std::nullopt;
}

/// A lock script call for `user`. A fresh nonce each time: a replay answers the first lock's instead.
struct lock_request {
  lock_request(std::string_view prefix, std::string user_id, credits lock_amount, std::string_view idempotency_key)
      : user(std::move(user_id)), keys(prefix, user), amount(lock_amount), amount_text(std::to_string(lock_amount.micros())),
        key(idempotency_key), nonce(new_lock_nonce()) {}
  [[nodiscard]] std::array<std::string_view, 6> args(const script_settings& s) const noexcept {
    return {amount_text, key, s.ttl, s.grace, s.reap, nonce};
  }
  /// A keyed lock can be sent twice safely: the second answers the first grant.
  [[nodiscard]] bool retry_safe() const noexcept { return !key.empty(); }
  std::string user;
  user_keys keys;
  credits amount;
  std::string amount_text, key, nonce;
};

/// The lock script's answer as the ledger concept's result. `unknown_credential` means the cached
/// owner is gone: the caller forgets the credential.
[[nodiscard]] inline result<lock_grant> read_lock_answer(const redisReply& r, const lock_request& request) {
  if (is_error(r)) return script_failure(r);
  const std::string_view status = text_at(r, 0);
  if (status == "ok" || status == "replayed")
    return lock_grant{format_lock_id(text_at(r, 1), text_at(r, 3), request.user), credits::from_micros(int_at(r, 2))};
  if (status == "insufficient_funds")
    return ledger_error{ledger_errc::insufficient_funds,
                        fmt::format("{} available, {} requested", credits::from_micros(int_at(r, 1)), request.amount)};
  if (status == "unknown_credential") return unknown_credential();
  return unexpected_reply(r);
}

/// A settle script call, or an error for a cost out of range or an id this ledger never made.
struct settle_request {
  [[nodiscard]] static result<settle_request> make(std::string_view prefix, std::string_view lock_id, credits real_cost) {
    if (real_cost.is_negative() || real_cost > max_ledger_amount)
      return ledger_error{ledger_errc::invalid_amount, fmt::format("a real cost must be between 0 and {}", max_ledger_amount)};
    auto parsed = parse_lock_id(lock_id);
    if (!parsed) return lock_not_found();
    return settle_request(prefix, std::move(*parsed), real_cost);
  }
  [[nodiscard]] const user_keys& keys() const noexcept { return *keys_; }
  [[nodiscard]] std::array<std::string_view, 6> args(const script_settings& s) const noexcept {
    return {lock.number, cost_text, s.allow_overage ? "1" : "0", s.grace, s.reap, lock.nonce};
  }
  lock_id_parts lock;
  credits cost;
  std::string cost_text;

 private:
  settle_request(std::string_view prefix, lock_id_parts parts, credits real_cost)
      : lock(std::move(parts)), cost(real_cost), cost_text(std::to_string(real_cost.micros())),
        keys_(std::make_unique<user_keys>(prefix, lock.user)) {}
  std::unique_ptr<user_keys> keys_;  // on the heap: user_keys views its own strings, so cannot move
};

/// The settle script's answer as the ledger concept's result.
[[nodiscard]] inline result<settlement> read_settle_answer(const redisReply& r, credits real_cost) {
  if (is_error(r)) return script_failure(r);
  const std::string_view status = text_at(r, 0);
  if (status == "ok") return settlement{real_cost, false};
  if (status == "replayed") return settlement{real_cost, true};
  if (status == "lock_not_found") return lock_not_found();
  if (status == "expired") return ledger_error{ledger_errc::lock_not_found, "lock expired before it was settled; its hold was returned"};
  if (status == "conflicting_settlement")
    return ledger_error{ledger_errc::conflicting_settlement,
                        fmt::format("lock already settled for {}, not {}", credits::from_micros(int_at(r, 1)), real_cost)};
  if (status == "invalid_amount")
    return ledger_error{ledger_errc::invalid_amount, fmt::format("real cost {} exceeds the locked {}", real_cost, credits::from_micros(int_at(r, 1)))};
  if (status == "insufficient_funds")
    return ledger_error{ledger_errc::insufficient_funds, fmt::format("real cost {} exceeds the hold and the balance", real_cost)};
  return unexpected_reply(r);
}

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_LEDGER_CALLS_HPP
