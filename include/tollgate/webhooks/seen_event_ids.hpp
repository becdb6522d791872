// SPDX-License-Identifier: MIT
// seen_event_ids: a bounded, thread-safe memory of webhook event ids, so a replayed delivery changes nothing.
#ifndef TOLLGATE_WEBHOOKS_SEEN_EVENT_IDS_HPP
#define TOLLGATE_WEBHOOKS_SEEN_EVENT_IDS_HPP

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tollgate::webhooks {

/// Remembers each claimed event id for `retention`, at most `capacity` at a time. When full it
/// refuses new ids (`claim::full`) instead of forgetting one early: forgetting would let a replay
/// of that event through while its signature is still fresh. A signed delivery passes the timestamp
/// check for at most 2 × tolerance (timestamp ± tolerance), so `plan_webhook` keeps ids that long.
/// The clock is the caller's (`now` arguments), so tests can move it.
///
///     tollgate::webhooks::seen_event_ids seen{100'000, std::chrono::minutes(10)};
///     if (seen.try_claim("evt_1", now) == seen_event_ids::claim::duplicate) { /* already applied */ }
class seen_event_ids {
 public:
  using clock = std::chrono::system_clock;
  enum class claim {
    first,      ///< not seen within the retention: claimed now
    duplicate,  ///< seen within the retention
    full,       ///< `capacity` ids are remembered and none has expired: nothing claimed
  };

  explicit seen_event_ids(std::size_t capacity = 100'000, clock::duration retention = std::chrono::minutes(10))
      : capacity_(capacity), retention_(retention) {
    if (capacity == 0) throw std::invalid_argument("tollgate::webhooks::seen_event_ids: the capacity must be positive");
    if (retention <= clock::duration::zero()) throw std::invalid_argument("tollgate::webhooks::seen_event_ids: the retention must be positive");
  }

  /// Claims `id` at `now`, atomically: of two concurrent claims of one id, exactly one is `first`.
  [[nodiscard]] claim try_claim(std::string_view id, clock::time_point now) {
    std::lock_guard lock(mutex_);
    forget_expired(now);
    std::string key(id);
    if (auto it = expiry_.find(key); it != expiry_.end()) return claim::duplicate;
    // The queue (not the map) is the bound: `forget` leaves its queue slot until it expires.
    if (order_.size() >= capacity_) return claim::full;
    const auto expires = now + retention_;
    order_.emplace_back(expires, key);
    expiry_.emplace(std::move(key), expires);
    return claim::first;
  }

  /// Forgets `id` (its change could not be applied after all), so a retry is not a duplicate.
  void forget(std::string_view id) {
    std::lock_guard lock(mutex_);
    expiry_.erase(std::string(id));
  }

  /// Whether `id` is remembered at `now`.
  [[nodiscard]] bool contains(std::string_view id, clock::time_point now) const {
    std::lock_guard lock(mutex_);
    auto it = expiry_.find(std::string(id));
    return it != expiry_.end() && now < it->second;
  }
  /// How many ids are remembered (expired ones go at the next claim).
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return expiry_.size();
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] clock::duration retention() const noexcept { return retention_; }

 private:
  // Ids expire in claim order (a fixed retention); a clock stepping back only keeps some longer.
  void forget_expired(clock::time_point now) {
    while (!order_.empty() && order_.front().first <= now) {
      auto it = expiry_.find(order_.front().second);
      if (it != expiry_.end() && it->second == order_.front().first) expiry_.erase(it);
      order_.pop_front();
    }
  }

  std::size_t capacity_;
  clock::duration retention_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, clock::time_point> expiry_;
  std::deque<std::pair<clock::time_point, std::string>> order_;
};

}  // namespace tollgate::webhooks

#endif  // TOLLGATE_WEBHOOKS_SEEN_EVENT_IDS_HPP
