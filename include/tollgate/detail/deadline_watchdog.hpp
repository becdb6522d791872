// SPDX-License-Identifier: MIT
// A watchdog thread that interrupts calls still running past their deadline.
#ifndef TOLLGATE_DETAIL_DEADLINE_WATCHDOG_HPP
#define TOLLGATE_DETAIL_DEADLINE_WATCHDOG_HPP

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace tollgate::detail {

/// `arm(deadline, interrupt)` registers a call; if it is still armed at `deadline`, `interrupt`
/// runs on the watchdog's thread (e.g. closing the call's socket). `disarm(ticket)` when the call
/// returns. Per-read socket timeouts cannot bound a server that drips bytes; this bounds the
/// whole call. The thread starts with the first arm(). Each interrupt runs on a thread of its
/// own, so one that blocks (httplib's stop() waits out a connect in progress) never delays the
/// deadlines of other calls.
class deadline_watchdog {
 public:
  using clock = std::chrono::steady_clock;
  using ticket = std::uint64_t;

  deadline_watchdog() = default;
  deadline_watchdog(const deadline_watchdog&) = delete;
  deadline_watchdog& operator=(const deadline_watchdog&) = delete;
  ~deadline_watchdog() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::unique_lock guard(mutex_);
    idle_.wait(guard, [&] { return running_.empty(); });  // interrupt threads use *this
  }

  ticket arm(clock::time_point deadline, std::function<void()> interrupt) {
    std::lock_guard guard(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    const ticket t = ++next_;
    armed_.emplace(t, entry{deadline, std::move(interrupt)});
    wake_.notify_all();
    return t;
  }

  /// Returns false when the interrupt already ran (the call hit its deadline).
  bool disarm(ticket t) {
    std::unique_lock guard(mutex_);
    // Wait out an interrupt in progress, so it never touches a call that has returned.
    idle_.wait(guard, [&] { return running_.count(t) == 0; });
    return armed_.erase(t) == 1;
  }

 private:
  struct entry {
    clock::time_point deadline;
    std::function<void()> interrupt;
  };

  void loop() {
    std::unique_lock guard(mutex_);
    while (!stopping_) {
      auto next = armed_.end();
      for (auto it = armed_.begin(); it != armed_.end(); ++it)
        if (next == armed_.end() || it->second.deadline < next->second.deadline) next = it;
      if (next == armed_.end()) {
        wake_.wait(guard);
        continue;
      }
      if (const auto deadline = next->second.deadline; clock::now() < deadline) {
        wake_.wait_until(guard, deadline);  // a copy: disarm() may erase the entry while we wait
        continue;
      }
      auto interrupt = std::move(next->second.interrupt);
      const ticket t = next->first;
      armed_.erase(next);
      running_.insert(t);
      auto run = [this, t, interrupt = std::move(interrupt)] {
        try {
          interrupt();
        } catch (...) {
        }
        std::lock_guard done(mutex_);
        running_.erase(t);
        idle_.notify_all();
      };
      try {
        std::thread(run).detach();
      } catch (...) {  // no thread to be had: interrupt from here rather than not at all
        guard.unlock();
        run();
        guard.lock();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<ticket, entry> armed_;
  ticket next_ = 0;
  std::set<ticket> running_;  // interrupts in progress
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_DEADLINE_WATCHDOG_HPP
