// SPDX-License-Identifier: MIT
// awaiting_ledger<L>: an async ledger seen through the blocking ledger concept, each call waiting for
// its handler. For tests: it lets the ledger conformance suite check an async ledger's async forms.
#ifndef TOLLGATE_TESTING_AWAITING_LEDGER_HPP
#define TOLLGATE_TESTING_AWAITING_LEDGER_HPP

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>

namespace tollgate::testing {

/// Calls `async_lock`/`async_settle`/`async_release` and waits for the handler, counting breaches
/// of requirement 5 of `async_ledger` (each handler called exactly once) for the test to assert on:
/// a handler called again is counted in `extra_completions()`, one not called within `patience` in
/// `missing_completions()` (its call then returns `unavailable` instead of hanging the test).
/// Run `check_conformance` on it to test an async ledger.
///
///     tollgate::testing::awaiting_ledger blocking{my_async_ledger};
///     ... check_conformance(...) ...;
///     CHECK(blocking.extra_completions() == 0);
///     CHECK(blocking.missing_completions() == 0);
template <class L>
class awaiting_ledger {
  // A type, so the check runs as soon as the class is named; its message is then the only error.
  using well_formed = std::bool_constant<::tollgate::detail::check_async_ledger<L>()>;

 public:
  using ledger_concept = ledger_t;

  explicit awaiting_ledger(L& inner, std::chrono::milliseconds patience = std::chrono::seconds(30)) noexcept
      : inner_(inner), patience_(patience), counts_(std::make_shared<counters>()) {}

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    auto slot = std::make_shared<one_result<lock_grant>>(counts_);
    inner_.async_lock(credential, amount, key, [slot](result<lock_grant> r) { slot->set(std::move(r)); });
    return slot->get(patience_);
  }
  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    auto slot = std::make_shared<one_result<settlement>>(counts_);
    inner_.async_settle(lock_id, real_cost, [slot](result<settlement> r) { slot->set(std::move(r)); });
    return slot->get(patience_);
  }
  result<settlement> release(std::string_view lock_id) {
    auto slot = std::make_shared<one_result<settlement>>(counts_);
    inner_.async_release(lock_id, [slot](result<settlement> r) { slot->set(std::move(r)); });
    return slot->get(patience_);
  }
  [[nodiscard]] bool health() {
    if constexpr (requires { { inner_.health() } -> std::convertible_to<bool>; }) return inner_.health();
    else return true;
  }

  /// Handlers the ledger called more than once, and handlers it did not call in time.
  [[nodiscard]] int extra_completions() const noexcept { return counts_->extra.load(); }
  [[nodiscard]] int missing_completions() const noexcept { return counts_->missing.load(); }

 private:
  struct counters {
    std::atomic<int> extra{0};
    std::atomic<int> missing{0};
  };

  template <class T>
  class one_result {
   public:
    explicit one_result(std::shared_ptr<counters> c) : counts_(std::move(c)) {}
    void set(result<T> r) {
      {
        std::lock_guard guard(mutex_);
        if (value_ || gave_up_) {
          if (value_) ++counts_->extra;
          return;
        }
        value_.emplace(std::move(r));
      }
      done_.notify_all();
    }
    result<T> get(std::chrono::milliseconds patience) {
      std::unique_lock guard(mutex_);
      if (!done_.wait_for(guard, patience, [this] { return value_.has_value(); })) {
        gave_up_ = true;
        ++counts_->missing;
        return ledger_error{ledger_errc::unavailable, "tollgate::testing::awaiting_ledger: the handler was not called in time"};
      }
      return std::move(*value_);
    }

   private:
    std::shared_ptr<counters> counts_;
    std::mutex mutex_;
    std::condition_variable done_;
    std::optional<result<T>> value_;
    bool gave_up_ = false;
  };

  L& inner_;
  std::chrono::milliseconds patience_;
  std::shared_ptr<counters> counts_;
};

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTING_AWAITING_LEDGER_HPP
