// SPDX-License-Identifier: MIT
// offloading_ledger<L>: any blocking ledger as an asynchronous one, its calls run by a small pool of
// worker threads behind a bounded queue.
#ifndef TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP
#define TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/detail/worker_pool.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/logging/logger.hpp>

namespace tollgate {

struct offloading_options {
  std::size_t threads = 4;            ///< workers: how many ledger calls may wait on the ledger at once
  std::size_t queue_capacity = 1024;  ///< locks waiting for a worker; one more completes at once with `unavailable`
  logger log{};                       ///< where a completion handler that throws is reported
};

/// Adapts a blocking `ledger` to `async_ledger`: each async call is queued and run by one of
/// `threads` workers, which then calls the handler on its own thread (an event loop posts the
/// result back to its executor, as metered::async_call's `resume` does).
///
/// Bounded: at most `queue_capacity` locks wait; one more completes at once, on the caller's thread,
/// with `unavailable` ("offloading ledger queue full"), so a slow ledger costs bounded memory and never
/// blocks the caller. Settles and releases are always queued: each ends a lock already granted
/// (so they are bounded by the locks), and refusing one would strand its hold until it expires.
///
///     tollgate::credit_service_ledger remote{...};
///     tollgate::offloading_ledger async_remote{remote, {.threads = 8, .queue_capacity = 4096}};
///
/// It is a blocking ledger too: `lock`, `settle`, `release` and `health` call the inner ledger
/// directly. Put a `durable_ledger` *inside* it (offloading_ledger<durable_ledger<L>>) so a settle
/// that fails is journaled. Destruction stops taking calls, completes every queued lock with
/// `unavailable` at once, runs the queued settles and releases, and joins the workers; it may run in
/// a completion handler. The inner ledger must outlive it.
template <class Inner>
class offloading_ledger {
  // A type, so the check runs as soon as the class is named; its message is then the only error.
  using well_formed = std::bool_constant<detail::check_ledger<Inner>()>;

 public:
  using ledger_concept = ledger_t;
  static constexpr std::string_view metrics_kind = "offloading";  ///< the `ledger` label of its metrics
  using async_ledger_concept = async_ledger_t;
  static constexpr bool in_process = in_process_ledger<Inner>;  // a worker thread answers every call it takes

  explicit offloading_ledger(Inner& inner, offloading_options options = {})
      : inner_(inner), pool_(options.threads, options.queue_capacity, std::move(options.log), "offloading ledger") {}
  offloading_ledger(const offloading_ledger&) = delete;
  offloading_ledger& operator=(const offloading_ledger&) = delete;

  // --- the blocking ledger: straight through -----------------------------------------------------
  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) { return inner_.lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits real_cost) { return inner_.settle(lock_id, real_cost); }
  result<settlement> release(std::string_view lock_id) { return inner_.release(lock_id); }
  [[nodiscard]] bool health() { return inner_.health(); }

  // --- the asynchronous ledger -------------------------------------------------------------------
  template <class Handler>
  void async_lock(std::string_view credential, credits amount, std::string_view key, Handler&& done) {
    submit<lock_grant>(/*may_refuse=*/true, std::forward<Handler>(done),
                       [inner = &inner_, credential = std::string(credential), amount, key = std::string(key)] {
                         return inner->lock(credential, amount, key);
                       });
  }
  template <class Handler>
  void async_settle(std::string_view lock_id, credits real_cost, Handler&& done) {
    submit<settlement>(/*may_refuse=*/false, std::forward<Handler>(done),
                       [inner = &inner_, lock_id = std::string(lock_id), real_cost] { return inner->settle(lock_id, real_cost); });
  }
  template <class Handler>
  void async_release(std::string_view lock_id, Handler&& done) {
    submit<settlement>(/*may_refuse=*/false, std::forward<Handler>(done),
                       [inner = &inner_, lock_id = std::string(lock_id)] { return inner->release(lock_id); });
  }

  /// Calls queued now (not counting those a worker is running).
  [[nodiscard]] std::size_t queued() const { return pool_.queued(); }

 private:
  // A queued call: `run` calls the ledger and then the handler; `refuse` calls the handler with
  // `unavailable` instead. Move-only, because handlers may be.
  template <class T, class Handler, class Operation>
  struct task_of final : detail::pool_task {
    template <class H>
    task_of(H&& h, Operation o) : handler(std::forward<H>(h)), operation(std::move(o)) {}
    void run(const logger& log) noexcept override { complete(call_inner(), log); }
    void refuse(std::string_view why, const logger& log) noexcept override {
      complete(ledger_error{ledger_errc::unavailable, std::string(why)}, log);
    }
    result<T> call_inner() noexcept {
      try {
        return operation();
      } catch (const std::exception& e) {  // the inner ledger's exceptions become unavailable, as metered treats them
        return ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()};
      } catch (...) {
        return ledger_error{ledger_errc::unavailable, "the ledger threw"};
      }
    }
    void complete(result<T> outcome, const logger& log) noexcept {
      try {
        std::move(handler)(std::move(outcome));
      } catch (const std::exception& e) {
        log.error("offloading_ledger: a completion handler threw: {}", e.what());
      } catch (...) {
        log.error("offloading_ledger: a completion handler threw");
      }
    }
    Handler handler;
    Operation operation;
  };

  template <class T, class Handler, class Operation>
  void submit(bool may_refuse, Handler&& done, Operation operation) {
    std::unique_ptr<detail::pool_task> boxed;
    try {  // make_unique allocates before it moves the handler: on failure `done` is still ours to call
      boxed = std::make_unique<task_of<T, std::decay_t<Handler>, Operation>>(std::forward<Handler>(done), std::move(operation));
    } catch (...) {
      return std::forward<Handler>(done)(result<T>(ledger_error{ledger_errc::unavailable, "offloading_ledger: out of memory"}));
    }
    boxed->may_refuse = may_refuse;
    pool_.submit(std::move(boxed));
  }

  Inner& inner_;
  detail::worker_pool pool_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_OFFLOADING_LEDGER_HPP
