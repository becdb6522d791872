// SPDX-License-Identifier: MIT
// The Lua scripts of redis_ledger: each checks and changes one user's keys atomically inside Redis,
// so one round trip does a whole lock or settle and no two API servers can both spend one credit.
#ifndef TOLLGATE_REDIS_LEDGER_SCRIPTS_HPP
#define TOLLGATE_REDIS_LEDGER_SCRIPTS_HPP

#include <string>

#include <tollgate/redis/script.hpp>

namespace tollgate::redis::ledger_scripts {

// Every script gets one user's five keys, all sharing the hash tag {user} (one cluster slot):
//   KEYS[1] account  hash: available, held (integer micro-credits), seq (the last lock number)
//   KEYS[2] locks    hash: lock number → "state:amount:expires_ms:charged:nonce:idempotency key",
//                    state o(pen) s(ettled) e(xpired); the nonce is also in the lock id, and a
//                    settle whose id carries another nonce does not find the lock
//   KEYS[3] open     sorted set: open lock numbers by expiry (ms, server time)
//   KEYS[4] closed   sorted set: closed lock numbers by when they are forgotten
//   KEYS[5] keys     hash: idempotency key → lock number
// Time is Redis's own (TIME), never an API server's clock. Amounts stay below 2^53, where Lua's
// doubles are exact integers; they are written back with %d, never as floats. A script checks
// everything before its first write, because Redis does not roll back a script that fails midway.
inline constexpr const char* prelude = R"lua(
local account, locks, open, closed, keys = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function int(n) return string.format('%d', n) end
local function parse(entry)
  local state, amount, expires, charged, nonce, key = string.match(entry, '^(%a):(%d+):(%d+):(%d+):(%x*):(.*)$')
  if not state then error('tollgate: corrupt lock record') end
  return state, tonumber(amount), tonumber(expires), tonumber(charged), key, nonce
end
local function record(state, amount, expires, charged, nonce, key)
  return state .. ':' .. int(amount) .. ':' .. int(expires) .. ':' .. int(charged) .. ':' .. nonce .. ':' .. key
end
local function close(number, state, amount, expires, charged, key, nonce, grace)
  redis.call('HSET', locks, number, record(state, amount, expires, charged, nonce, key))
  redis.call('ZREM', open, number)
  redis.call('ZADD', closed, int(expires + grace), number)
end
local function expire(number, grace)
  local entry = redis.call('HGET', locks, number)
  if not entry then redis.call('ZREM', open, number) return end
  local state, amount, expires, _, key, nonce = parse(entry)
  if state ~= 'o' then redis.call('ZREM', open, number) return end
  redis.call('HINCRBY', account, 'held', int(-amount))
  redis.call('HINCRBY', account, 'available', int(amount))
  close(number, 'e', amount, expires, 0, key, nonce, grace)
end
-- Returns the holds that are due to the user, forgets closed locks past retention; at most `limit`
-- of each per call, so one call stays short whatever the backlog (the sweep takes the rest).
local function reap(grace, limit)
  local due = redis.call('ZRANGEBYSCORE', open, '-inf', now, 'LIMIT', 0, limit)
  for _, number in ipairs(due) do expire(number, grace) end
  local old = redis.call('ZRANGEBYSCORE', closed, '-inf', now, 'LIMIT', 0, limit)
  for _, number in ipairs(old) do
    local entry = redis.call('HGET', locks, number)
    if entry then
      local _, _, _, _, key = parse(entry)
      if key ~= '' and redis.call('HGET', keys, key) == number then redis.call('HDEL', keys, key) end
      redis.call('HDEL', locks, number)
    end
    redis.call('ZREM', closed, number)
  end
  return #due
end
)lua";

/// ARGV: amount, idempotency key ('' for none), ttl ms, retention grace ms, reap limit, nonce.
/// → {'ok', number, amount, nonce} | {'replayed', number, amount, nonce} | {'insufficient_funds', available}
///   | {'unknown_credential'}
inline const script& lock() {
  static const script s(std::string(prelude) + R"lua(
local amount, key, ttl, grace, nonce = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[6]
reap(grace, tonumber(ARGV[5]))
if redis.call('EXISTS', account) == 0 then return {'unknown_credential'} end
if key ~= '' then
  local number = redis.call('HGET', keys, key)
  if number then
    local entry = redis.call('HGET', locks, number)
    if entry then
      local _, first, _, _, _, first_nonce = parse(entry)
      return {'replayed', number, first, first_nonce}
    end
  end
end
local available = tonumber(redis.call('HGET', account, 'available'))
if available < amount then return {'insufficient_funds', available} end
local number = tostring(redis.call('HINCRBY', account, 'seq', 1))
redis.call('HINCRBY', account, 'available', int(-amount))
redis.call('HINCRBY', account, 'held', int(amount))
redis.call('HSET', locks, number, record('o', amount, now + ttl, 0, nonce, key))
redis.call('ZADD', open, int(now + ttl), number)
if key ~= '' then redis.call('HSET', keys, key, number) end
return {'ok', number, amount, nonce}
)lua");
  return s;
}

/// ARGV: lock number, real cost, overage allowed ('1'/'0'), retention grace ms, reap limit, nonce.
/// → {'ok'} | {'replayed'} | {'lock_not_found'} | {'expired'} | {'conflicting_settlement', charged}
///   | {'invalid_amount', held} | {'insufficient_funds', available}
inline const script& settle() {
  static const script s(std::string(prelude) + R"lua(
local number, cost, overage, grace = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4])
reap(grace, tonumber(ARGV[5]))
local entry = redis.call('HGET', locks, number)
if not entry then return {'lock_not_found'} end
local state, amount, expires, charged, key, nonce = parse(entry)
if nonce ~= ARGV[6] then return {'lock_not_found'} end  -- another lock of that number (after a failover)
if state == 'o' and expires <= now then
  expire(number, grace)
  state = 'e'
end
if state == 'e' then return {'expired'} end
if state == 's' then
  if charged == cost then return {'replayed'} end
  return {'conflicting_settlement', charged}
end
local available = tonumber(redis.call('HGET', account, 'available'))
if cost > amount then
  if not overage then return {'invalid_amount', amount} end
  if available < cost - amount then return {'insufficient_funds', available} end
end
redis.call('HINCRBY', account, 'held', int(-amount))
redis.call('HINCRBY', account, 'available', int(amount - cost))
close(number, 's', amount, expires, cost, key, nonce, grace)
return {'ok'}
)lua");
  return s;
}

/// ARGV: balance. Creates the account unless it exists. → 1 created | 0 existed
inline const script& add_user() {
  static const script s(std::string(prelude) + R"lua(
if redis.call('EXISTS', account) == 1 then return 0 end
redis.call('HSET', account, 'available', ARGV[1], 'held', '0', 'seq', '0')
return 1
)lua");
  return s;
}

/// ARGV: amount, the largest total a user may hold (available + held), retention grace ms, reap limit.
/// → {'ok', available} | {'unknown_credential'} | {'invalid_amount', available + held}
inline const script& top_up() {
  static const script s(std::string(prelude) + R"lua(
local amount, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
reap(tonumber(ARGV[3]), tonumber(ARGV[4]))
if redis.call('EXISTS', account) == 0 then return {'unknown_credential'} end
local available = tonumber(redis.call('HGET', account, 'available'))
local held = tonumber(redis.call('HGET', account, 'held'))
if available + held > limit - amount then return {'invalid_amount', available + held} end
return {'ok', redis.call('HINCRBY', account, 'available', int(amount))}
)lua");
  return s;
}

/// Returns due holds first, so the answer is what a lock would see. ARGV: retention grace ms, reap limit.
/// → {'ok', available, held, open locks, holds returned now} | {'unknown_credential'}
inline const script& balance() {
  static const script s(std::string(prelude) + R"lua(
local returned = reap(tonumber(ARGV[1]), tonumber(ARGV[2]))
if redis.call('EXISTS', account) == 0 then return {'unknown_credential'} end
return {'ok', tonumber(redis.call('HGET', account, 'available')), tonumber(redis.call('HGET', account, 'held')),
        redis.call('ZCARD', open), returned}
)lua");
  return s;
}

/// The open locks of one user. ARGV: retention grace ms, reap limit.
/// → {number, nonce, amount, expires in ms, number, nonce, amount, expires in ms, ...}
inline const script& open_locks() {
  static const script s(std::string(prelude) + R"lua(
reap(tonumber(ARGV[1]), tonumber(ARGV[2]))
local out = {}
for _, number in ipairs(redis.call('ZRANGE', open, 0, -1)) do
  local entry = redis.call('HGET', locks, number)
  if entry then
    local _, amount, expires, _, _, nonce = parse(entry)
    out[#out + 1] = number
    out[#out + 1] = nonce
    out[#out + 1] = amount
    out[#out + 1] = expires - now
  end
end
return out
)lua");
  return s;
}

/// KEYS[1]: a credential's hash (user, id, public). ARGV: user, id, public ('1'/'0').
/// Registers unless registered. → {1 made now | 0 existed, user, id, public}
inline const script& register_credential() {
  static const script s(R"lua(
local user = redis.call('HGET', KEYS[1], 'user')
if user then
  return {0, user, redis.call('HGET', KEYS[1], 'id') or '', redis.call('HGET', KEYS[1], 'public') or '0'}
end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'id', ARGV[2], 'public', ARGV[3])
return {1, ARGV[1], ARGV[2], ARGV[3]}
)lua");
  return s;
}

}  // namespace tollgate::redis::ledger_scripts

#endif  // TOLLGATE_REDIS_LEDGER_SCRIPTS_HPP
