// SPDX-License-Identifier: MIT
// offloading_ledger<L>: any blocking ledger as an asynchronous one, its calls run by a small pool of
// worker threads behind a bounded queue.
#ifndef TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP
#define TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/logging/logger.hpp>

namespace tollgate {

struct offloading_options {
  std::size_t threads = 4;           ///< workers: how many ledger calls wait on the network at once
  std::size_t queue_capacity = 1024; ///< calls waiting for a worker; one more completes at once with `unavailable`
  logger log{};                      ///< where a completion handler that throws is reported
};

/// Adapts a blocking `ledger` to `async_ledger`: each async call is queued and run by one of
/// `threads` workers, which then calls the handler (on that worker's thread: an event loop posts
/// the result back to its own executor). The queue is bounded: when it is full the handler is
/// called at once, on the caller's thread, with `unavailable` ("offloading queue full"), so memory
/// stays bounded however slow the ledger gets and the caller's loop is never blocked.
///
///     tollgate::credit_service_ledger remote{...};
///     tollgate::offloading_ledger async_remote{remote, {.threads = 8, .queue_capacity = 4096}};
///     async_remote.async_lock(key, 5_cr, request_key, [](tollgate::result<tollgate::lock_grant> r) { ... });
///
/// It is a blocking ledger too: `lock`, `settle`, `release` and `health` call the inner ledger directly.
/// The destructor stops taking calls, runs every queued one (each handler still called exactly
/// once) and joins the workers. The inner ledger must outlive it.
template <class Inner>
class offloading_ledger {
  static_assert(detail::check_ledger<Inner>());

 public:
  using ledger_concept = ledger_t;
  using async_ledger_concept = async_ledger_t;

  explicit offloading_ledger(Inner& inner, offloading_options options = {})
      : inner_(inner), capacity_(options.queue_capacity), log_(std::move(options.log)) {
    if (options.threads == 0) throw std::invalid_argument("tollgate: offloading_ledger needs at least one thread");
    if (capacity_ == 0) throw std::invalid_argument("tollgate: offloading_ledger needs a queue capacity of at least 1");
    workers_.reserve(options.threads);
    for (std::size_t i = 0; i < options.threads; ++i) workers_.emplace_back([this] { work(); });
  }
  offloading_ledger(const offloading_ledger&) = delete;
  offloading_ledger& operator=(const offloading_ledger&) = delete;
  ~offloading_ledger() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // --- the blocking ledger: straight through -----------------------------------------------------
  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) { return inner_.lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits real_cost) { return inner_.settle(lock_id, real_cost); }
  result<settlement> release(std::string_view lock_id) { return inner_.release(lock_id); }
  [[nodiscard]] bool health() { return inner_.health(); }

  // --- the asynchronous ledger -------------------------------------------------------------------
  template <class Handler>
  void async_lock(std::string_view credential, credits amount, std::string_view key, Handler&& done) {
    submit<lock_grant>(std::forward<Handler>(done), [this, credential = std::string(credential), amount, key = std::string(key)] {
      return inner_.lock(credential, amount, key);
    });
  }
  template <class Handler>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    submit<settlement>(std::forward<Handler>(done), [this, lock_id = std::string(lock_id), real_cost] {
      return inner_.settle(lock_id, real_cost);
    });
  }
  template <class Handler>
  void async_release(std::string_view lock_id, Handler&& done) {
    submit<settlement>(std::forward<Handler>(done), [this, lock_id = std::string(lock_id)] { return inner_.release(lock_id); });
  }

  /// Calls queued now (not counting those a worker is running).
  [[nodiscard]] std::size_t queued() const {
    std::lock_guard guard(mutex_);
    return queue_.size();
  }

 private:
  // A queued call: move-only, because handlers may be (C++20 has no std::move_only_function).
  struct task {
    virtual ~task() = default;
    virtual void run() = 0;
  };
  template <class Call>
  struct task_of final : task {
    explicit task_of(Call c) : call(std::move(c)) {}
    void run() override { call(); }
    Call call;
  };

  template <class T, class Handler, class Operation>
  void submit(Handler&& done, Operation operation) {
    using handler_type = std::decay_t<Handler>;
    std::unique_lock guard(mutex_);
    if (stopping_ || queue_.size() >= capacity_) {
      const bool full = !stopping_;
      guard.unlock();
      std::forward<Handler>(done)(result<T>(ledger_error{
          ledger_errc::unavailable, full ? fmt::format("offloading queue full ({} calls waiting)", capacity_)
                                         : std::string("offloading ledger is shutting down")}));
      return;
    }
    auto call = [this, operation = std::move(operation), handler = handler_type(std::forward<Handler>(done))]() mutable {
      result<T> outcome = run_inner<T>(operation);
      try {
        std::move(handler)(std::move(outcome));
      } catch (const std::exception& e) {
        log_.error("offloading_ledger: a completion handler threw: {}", e.what());
      } catch (...) {
        log_.error("offloading_ledger: a completion handler threw");
      }
    };
    queue_.push_back(std::make_unique<task_of<decltype(call)>>(std::move(call)));
    guard.unlock();
    ready_.notify_one();
  }

  // The inner ledger's exceptions become `unavailable`, as metered treats a throwing ledger.
  template <class T, class Operation>
  static result<T> run_inner(Operation& operation) {
    try {
      return operation();
    } catch (const std::exception& e) {
      return ledger_error{ledger_errc::unavailable, fmt::format("the ledger threw: {}", e.what())};
    } catch (...) {
      return ledger_error{ledger_errc::unavailable, "the ledger threw"};
    }
  }

  void work() {
    for (;;) {
      std::unique_ptr<task> next;
      {
        std::unique_lock guard(mutex_);
        ready_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every queued call has run
        next = std::move(queue_.front());
        queue_.pop_front();
      }
      next->run();
    }
  }

  Inner& inner_;
  const std::size_t capacity_;
  logger log_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<task>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP
