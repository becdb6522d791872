// SPDX-License-Identifier: MIT
// The Redis ledgers' cache of credential → owner: what makes a lock one round trip instead of two.
#ifndef TOLLGATE_REDIS_CREDENTIAL_CACHE_HPP
#define TOLLGATE_REDIS_CREDENTIAL_CACHE_HPP

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tollgate {

/// A credential's registration: its owner, and the id and public flag a service may give it.
struct credential_record {
  std::string user_id;
  std::string credential_id;
  bool is_public = false;
};

namespace redis {

/// Registrations trusted for `ttl` without asking Redis (a revoked credential works that long);
/// starts over when `capacity` entries are reached. Thread-safe. A ttl of 0 caches nothing.
class credential_cache {
 public:
  using clock = std::chrono::steady_clock;

  credential_cache(std::chrono::milliseconds ttl, std::size_t capacity) : ttl_(ttl), capacity_(capacity) {}

  [[nodiscard]] std::optional<credential_record> find(std::string_view credential) {
    if (ttl_.count() <= 0) return std::nullopt;
    std::lock_guard guard(mutex_);
    if (auto hit = entries_.find(std::string(credential)); hit != entries_.end() && hit->second.until > clock::now()) return hit->second.record;
    return std::nullopt;
  }
  void remember(std::string_view credential, const credential_record& record) {
    if (ttl_.count() <= 0) return;
    std::lock_guard guard(mutex_);
    if (entries_.size() >= capacity_) entries_.clear();
    entries_.insert_or_assign(std::string(credential), entry{record, clock::now() + ttl_});
  }
  void forget(std::string_view credential) {
    std::lock_guard guard(mutex_);
    entries_.erase(std::string(credential));
  }

 private:
  struct entry {
    credential_record record;
    clock::time_point until;
  };
  std::chrono::milliseconds ttl_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace redis
}  // namespace tollgate

#endif  // TOLLGATE_REDIS_CREDENTIAL_CACHE_HPP
