// SPDX-License-Identifier: MIT
// worker_pool: a few threads behind a queue that is bounded for the calls that may be refused; what
// offloading_ledger and the cpp-httplib credit transport run blocking calls on.
#ifndef TOLLGATE_DETAIL_WORKER_POOL_HPP
#define TOLLGATE_DETAIL_WORKER_POOL_HPP

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <tollgate/logging/logger.hpp>

namespace tollgate::detail {

/// A queued call: `run` does it and completes it, `refuse` completes it with a refusal instead.
/// Both are noexcept: a completion that throws is the task's to report.
struct pool_task {
  virtual ~pool_task() = default;
  virtual void run(const logger& log) noexcept = 0;
  virtual void refuse(std::string_view why, const logger& log) noexcept = 0;
  bool may_refuse = true;  ///< false for calls that end something already granted: never dropped
};

/// `threads` workers; at most `capacity` refusable tasks wait, one more is refused at once on the
/// caller's thread. Destruction refuses the queued refusable tasks, runs the others and joins; it
/// may run on a worker (from a completion), which is then detached and ends on its own.
class worker_pool {
 public:
  worker_pool(std::size_t threads, std::size_t capacity, logger log, std::string_view name)
      : shared_(std::make_shared<shared_state>(capacity, std::move(log), name)) {
    if (threads == 0) throw std::invalid_argument(fmt::format("tollgate: {} needs at least one thread", name));
    if (capacity == 0) throw std::invalid_argument(fmt::format("tollgate: {} needs a queue capacity of at least 1", name));
    try {
      workers_.reserve(threads);
      for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([s = shared_] { s->work(); });
    } catch (...) {  // a thread that could not start: stop the ones that did, then report
      stop();
      throw;
    }
  }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;
  ~worker_pool() { stop(); }

  /// Queues the task, or refuses it (full, stopping, out of memory) before returning. Once it is
  /// queued, a worker may run it and its completion may destroy this pool: nothing here touches
  /// `this` after that.
  void submit(std::unique_ptr<pool_task> task) noexcept {
    const std::shared_ptr<shared_state> shared = shared_;
    std::unique_lock guard(shared->mutex);
    const bool may_refuse = task->may_refuse;
    const char* refusal = nullptr;
    if (shared->stopping) refusal = "shutting down";
    else if (may_refuse && shared->queued_refusable >= shared->capacity) refusal = "full";
    if (refusal == nullptr) {
      try {
        shared->queue.push_back(std::move(task));
        if (may_refuse) ++shared->queued_refusable;
      } catch (...) {
        refusal = "out of memory";  // push_back left `task` ours
      }
    }
    guard.unlock();
    if (refusal == nullptr) {
      shared->ready.notify_one();
      return;
    }
    try {
      task->refuse(std::string_view(refusal) == "full" ? fmt::format("{} queue full ({} waiting)", shared->name, shared->capacity)
                                                       : fmt::format("{}: {}", shared->name, refusal),
                   shared->log);
    } catch (...) {  // fmt could not allocate
      task->refuse("queue full", shared->log);
    }
  }

  /// Tasks queued now (not counting those a worker is running).
  [[nodiscard]] std::size_t queued() const {
    std::lock_guard guard(shared_->mutex);
    return shared_->queue.size();
  }

 private:
  // Shared with the workers, so a worker whose completion destroyed the pool still finds its queue.
  struct shared_state {
    shared_state(std::size_t c, logger l, std::string_view n) : capacity(c), log(std::move(l)), name(n) {}
    const std::size_t capacity;
    const logger log;
    const std::string name;
    mutable std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::unique_ptr<pool_task>> queue;
    std::size_t queued_refusable = 0;
    bool stopping = false;

    void work() {
      for (;;) {
        std::unique_ptr<pool_task> next;
        {
          std::unique_lock guard(mutex);
          ready.wait(guard, [this] { return stopping || !queue.empty(); });
          if (queue.empty()) return;  // stopping, and every queued task has run
          next = std::move(queue.front());
          queue.pop_front();
          if (next->may_refuse) --queued_refusable;
        }
        next->run(log);
      }
    }
  };

  void stop() noexcept {
    std::vector<std::unique_ptr<pool_task>> refused;
    {
      std::lock_guard guard(shared_->mutex);
      shared_->stopping = true;
      auto& q = shared_->queue;
      for (auto& t : q)
        if (t->may_refuse) refused.push_back(std::move(t));
      q.erase(std::remove(q.begin(), q.end(), nullptr), q.end());
      shared_->queued_refusable = 0;
    }
    shared_->ready.notify_all();
    for (auto& t : refused) t->refuse(shared_->name + " is shutting down", shared_->log);
    for (std::thread& w : workers_) {
      if (!w.joinable()) continue;
      if (w.get_id() == std::this_thread::get_id()) w.detach();  // it returns to work() and finds the queue done
      else w.join();
    }
  }

  std::shared_ptr<shared_state> shared_;
  std::vector<std::thread> workers_;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_WORKER_POOL_HPP
