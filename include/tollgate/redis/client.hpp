// SPDX-License-Identifier: MIT
// A Redis client for tollgate's needs: one server or a Redis Cluster (slots discovered with
// CLUSTER SLOTS, MOVED and ASK followed), scripts by EVALSHA, a circuit breaker over it all.
#ifndef TOLLGATE_REDIS_CLIENT_HPP
#define TOLLGATE_REDIS_CLIENT_HPP

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <tollgate/detail/circuit_breaker.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/redis/cluster_slot.hpp>
#include <tollgate/redis/connection_pool.hpp>
#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/error_reply.hpp>
#include <tollgate/redis/script.hpp>

namespace tollgate::redis {

/// Settings of a client: the connections' and the circuit breaker's.
struct client_options {
  connection_options connections{};
  std::size_t breaker_failures = 5;                   ///< consecutive transport failures that open the circuit
  std::chrono::milliseconds breaker_open_for{1'000};  ///< the longest the circuit stays open
};

/// Talks to the server at `seed`, or, when that server is a cluster node, to the whole cluster:
/// each command goes to the master serving its key's slot. Thread-safe.
class client {
 public:
  client(endpoint seed, client_options options)
      : seed_(std::move(seed)), options_(options), breaker_(options.breaker_failures, options.breaker_open_for) {}

  /// Runs `args` on the node serving `key` (any node for an empty key). Error replies that mean
  /// "not now" (LOADING, BUSY, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY, OOM) are `unavailable`
  /// and a refused login `unauthorized`; other error replies are returned for the caller to read.
  result<reply> run(std::span<const std::string_view> args, std::string_view key, bool retry_safe) {
    if (!breaker_.allow()) return ledger_error{ledger_errc::unavailable, "Redis is unavailable (circuit open after repeated failures)"};
    // Every call ends the breaker's probe one way or the other, or the circuit would stay open for good.
    result<reply> answer = ledger_error{ledger_errc::unavailable, "no answer"};
    try {
      answer = route(args, key, retry_safe);
    } catch (...) {
      breaker_.record_failure();
      throw;
    }
    if (!answer) {
      // Only a server out of reach counts against it; a refused login or a bad reply came from a
      // server that answered (and reopening the circuit would hide the real error).
      if (answer.error().code == ledger_errc::unavailable) breaker_.record_failure();
      else breaker_.record_success();
      return answer;
    }
    breaker_.record_success();  // the server answered, even if with an error reply
    if (is_error(**answer))
      if (auto refusal = refusal_of(text_of(**answer))) return *std::move(refusal);
    return answer;
  }

  /// Runs a script with EVALSHA; when Redis does not have it yet (NOSCRIPT), sends it with EVAL,
  /// which also caches it there. All `keys` must share one slot.
  result<reply> eval(const script& s, std::span<const std::string_view> keys, std::span<const std::string_view> args, bool retry_safe) {
    const std::string key_count = std::to_string(keys.size());
    const std::string_view routing = keys.empty() ? std::string_view{} : keys.front();
    auto answer = run(script_command(s, key_count, keys, args, false), routing, retry_safe);
    if (answer && is_error(**answer) && is_noscript(text_of(**answer)))
      answer = run(script_command(s, key_count, keys, args, true), routing, retry_safe);
    return answer;
  }

  /// The master nodes: the seed alone, or every master of the cluster. For commands that walk
  /// the keyspace node by node (SCAN).
  result<std::vector<std::shared_ptr<connection_pool>>> masters() {
    auto t = current();
    if (!t) return t.error();
    return (*t)->masters;
  }

  /// Whether the server is a cluster node (known after the first successful call).
  [[nodiscard]] bool is_cluster() {
    std::lock_guard guard(mutex_);
    return topology_ && topology_->cluster;
  }

  [[nodiscard]] const endpoint& seed() const noexcept { return seed_; }
  [[nodiscard]] bool circuit_open() const { return breaker_.is_open(); }

 private:
  static constexpr std::uint16_t no_node = 0xffff;

  struct topology {
    bool cluster = false;
    std::vector<std::shared_ptr<connection_pool>> masters;
    std::vector<std::uint16_t> slot_owner;  // slot → index in masters (cluster only)
  };

  result<reply> route(std::span<const std::string_view> args, std::string_view key, bool retry_safe) {
    auto t = current();
    if (!t) return t.error();
    std::shared_ptr<connection_pool> node = (*t)->masters.front();
    if ((*t)->cluster && !key.empty()) {
      const std::uint16_t owner = (*t)->slot_owner[slot_of(key)];
      if (owner == no_node) {
        forget_topology();
        return ledger_error{ledger_errc::unavailable, fmt::format("no Redis Cluster node serves the slot of this key yet")};
      }
      node = (*t)->masters[owner];
    }
    bool asking = false;
    for (int hop = 0; hop < 5; ++hop) {
      auto answer = node->run(args, retry_safe, asking);
      if (!answer) {
        if ((*t)->cluster) forget_topology();  // a node failed: its slots may have a new master
        return answer;
      }
      if (!is_error(**answer)) return answer;
      const std::string_view text = text_of(**answer);
      if (!is_redirect(text)) return answer;
      const bool moved = text.starts_with("MOVED "), ask = !moved;
      if (!(*t)->cluster) {  // a single server that now redirects: it joined a cluster; look again next call
        forget_topology();
        return ledger_error{ledger_errc::unavailable, "Redis redirected the command: the topology changed; retry"};
      }
      // "MOVED 3999 127.0.0.1:6381": the slot lives there now (ASK: for this one command).
      const auto address = text.substr(text.rfind(' ') + 1);
      node = pool_for(address);
      if (!node) return ledger_error{ledger_errc::misconfigured, fmt::format("Redis Cluster redirected to '{}', not a host:port", address)};
      if (moved) forget_topology();
      asking = ask;
    }
    return ledger_error{ledger_errc::unavailable, "Redis Cluster redirected the command too many times (slots moving?)"};
  }

  // The topology, discovered on first use and after a failure or a MOVED.
  result<std::shared_ptr<const topology>> current() {
    {
      std::lock_guard guard(mutex_);
      if (topology_) return topology_;
    }
    // Asked of the seed first, then of every node met so far: the seed may be the node that failed.
    auto seed = pool_for(seed_.address());
    std::vector<std::shared_ptr<connection_pool>> candidates{seed};
    {
      std::lock_guard guard(mutex_);
      for (const auto& [address, pool] : pools_)
        if (pool != seed) candidates.push_back(pool);
    }
    const std::array<std::string_view, 2> argv{"CLUSTER", "SLOTS"};
    result<reply> answer = ledger_error{ledger_errc::unavailable, "no Redis node to ask"};
    for (const auto& candidate : candidates) {
      answer = candidate->run(argv, true);
      if (answer) break;
    }
    if (!answer) return answer.error();
    auto t = std::make_shared<topology>();
    if (is_error(**answer)) {
      // Only "ERR This instance has cluster support disabled" means one server; any other refusal
      // (an ACL without CLUSTER SLOTS, say) is an error to report, not a topology to remember.
      if (text_of(**answer).find("cluster support disabled") == std::string_view::npos) {
        const std::string_view text = text_of(**answer);
        const bool denied = text.starts_with("NOAUTH") || text.starts_with("WRONGPASS") || text.starts_with("NOPERM");
        return ledger_error{denied ? ledger_errc::unauthorized : ledger_errc::misconfigured,
                            fmt::format("Redis refused CLUSTER SLOTS, needed to find the node of each key: {}", text)};
      }
      t->masters.push_back(seed);
    } else {
      t->cluster = true;
      t->slot_owner.assign(cluster_slots, no_node);
      const redisReply& ranges = **answer;
      for (std::size_t i = 0; i < ranges.elements; ++i) {
        const redisReply* range = ranges.element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || range->element[2]->type != REDIS_REPLY_ARRAY ||
            range->element[2]->elements < 2)
          return ledger_error{ledger_errc::misconfigured, "unexpected CLUSTER SLOTS reply from Redis"};
        const redisReply* master = range->element[2];
        std::string host(text_of(*master->element[0]));
        if (host.empty() || host == "?") host = seed_.host;  // Redis 7 leaves the host out when it is the one we asked
        auto pool = pool_for(fmt::format("{}:{}", host, master->element[1]->integer));
        if (!pool) return ledger_error{ledger_errc::misconfigured, "unexpected node address in CLUSTER SLOTS"};
        std::uint16_t index = 0;
        while (index < t->masters.size() && t->masters[index] != pool) ++index;
        if (index == t->masters.size()) t->masters.push_back(pool);
        const auto first = range->element[0]->integer, last = range->element[1]->integer;
        for (auto slot = first; slot <= last && slot < cluster_slots; ++slot) t->slot_owner[static_cast<std::size_t>(slot)] = index;
      }
      if (t->masters.empty()) return ledger_error{ledger_errc::unavailable, "the Redis Cluster serves no slots yet"};
    }
    std::lock_guard guard(mutex_);
    topology_ = t;
    return std::shared_ptr<const topology>(t);
  }

  void forget_topology() {
    std::lock_guard guard(mutex_);
    topology_.reset();
  }

  // The pool for "host:port" (the last ':' splits, so IPv6 hosts work); one pool per address, kept
  // across topology changes so connections survive a refresh.
  std::shared_ptr<connection_pool> pool_for(std::string_view address) {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return nullptr;
    int port = 0;
    const auto port_text = address.substr(colon + 1);
    if (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec != std::errc{}) return nullptr;
    std::lock_guard guard(mutex_);
    auto& pool = pools_[std::string(address)];
    if (!pool) {
      endpoint where = seed_;  // same login on every node
      where.host = std::string(address.substr(0, colon));
      if (where.host.size() > 2 && where.host.front() == '[') where.host = where.host.substr(1, where.host.size() - 2);
      where.port = port;
      pool = std::make_shared<connection_pool>(std::move(where), options_.connections);
    }
    return pool;
  }

  endpoint seed_;
  client_options options_;
  detail::circuit_breaker breaker_;
  std::mutex mutex_;
  std::shared_ptr<const topology> topology_;
  std::map<std::string, std::shared_ptr<connection_pool>, std::less<>> pools_;
};

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_CLIENT_HPP
