// SPDX-License-Identifier: MIT
// A circuit breaker: after repeated transient failures, fail fast until a probe succeeds.
#ifndef TOLLGATE_DETAIL_CIRCUIT_BREAKER_HPP
#define TOLLGATE_DETAIL_CIRCUIT_BREAKER_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>

namespace tollgate::detail {

/// Closed: calls pass. `failure_threshold` consecutive failures open it: calls are refused at once.
/// Then one call is let through as a probe (half-open): success closes it, failure opens it again.
/// The first opening lasts `first_open_for`, each failed probe doubles it up to `open_for`, so a
/// service that comes back is found within `open_for` however long it was away. Thread-safe; the
/// lock is never held across the guarded call.
class circuit_breaker {
 public:
  using clock = std::chrono::steady_clock;

  circuit_breaker(std::size_t failure_threshold, std::chrono::milliseconds open_for,
                  std::function<clock::time_point()> now = [] { return clock::now(); },
                  std::chrono::milliseconds first_open_for = std::chrono::milliseconds(250))
      : threshold_(failure_threshold == 0 ? 1 : failure_threshold),
        max_open_for_(open_for),
        first_open_for_(std::min(first_open_for, open_for)),
        next_open_for_(first_open_for_),
        now_(std::move(now)) {}

  /// Whether a call may go out now. In half-open state only one caller gets true.
  [[nodiscard]] bool allow() {
    std::lock_guard guard(mutex_);
    switch (state_) {
      case state::closed: return true;
      case state::open:
        if (now_() < reopen_at_) return false;
        state_ = state::half_open;
        probing_ = true;
        return true;
      case state::half_open:
        if (probing_) return false;
        probing_ = true;
        return true;
    }
    return true;
  }

  void record_success() {
    std::lock_guard guard(mutex_);
    failures_ = 0;
    probing_ = false;
    state_ = state::closed;
    next_open_for_ = first_open_for_;
  }

  void record_failure() {
    std::lock_guard guard(mutex_);
    probing_ = false;
    if (state_ == state::half_open || ++failures_ >= threshold_) {
      state_ = state::open;
      reopen_at_ = now_() + next_open_for_;
      next_open_for_ = std::min(next_open_for_ * 2, max_open_for_);
    }
  }

  /// How long the next opening will last.
  [[nodiscard]] std::chrono::milliseconds next_open_for() const {
    std::lock_guard guard(mutex_);
    return next_open_for_;
  }

  /// 0 closed, 1 open, 2 half-open (a probe may be in flight): the value of the state gauge.
  [[nodiscard]] int state_code() const {
    std::lock_guard guard(mutex_);
    return static_cast<int>(state_);
  }

  [[nodiscard]] bool is_open() const {
    std::lock_guard guard(mutex_);
    return state_ != state::closed;
  }

 private:
  enum class state { closed, open, half_open };
  std::size_t threshold_;
  std::chrono::milliseconds max_open_for_;
  std::chrono::milliseconds first_open_for_;
  std::chrono::milliseconds next_open_for_;
  std::function<clock::time_point()> now_;
  mutable std::mutex mutex_;
  state state_ = state::closed;
  std::size_t failures_ = 0;
  bool probing_ = false;
  clock::time_point reopen_at_{};
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_CIRCUIT_BREAKER_HPP
