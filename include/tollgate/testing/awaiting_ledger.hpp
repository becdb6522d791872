// SPDX-License-Identifier: MIT
// awaiting_ledger<L>: an async ledger seen through the blocking ledger concept, each call waiting for
// its handler. For tests: it lets the ledger conformance suite check an async ledger's async forms.
#ifndef TOLLGATE_TESTING_AWAITING_LEDGER_HPP
#define TOLLGATE_TESTING_AWAITING_LEDGER_HPP

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>

namespace tollgate::testing {

/// Calls `async_lock`/`async_settle`/`async_release` and waits for the handler, checking on the way
/// requirement 5 of `async_ledger` (each handler called exactly once): a second call throws
/// std::logic_error out of the handler. Run `check_conformance` on it to test an async ledger.
///
///     tollgate::testing::awaiting_ledger blocking{my_async_ledger};
template <class L>
class awaiting_ledger {
  static_assert(::tollgate::detail::check_async_ledger<L>());

 public:
  using ledger_concept = ledger_t;

  explicit awaiting_ledger(L& inner) noexcept : inner_(inner) {}

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) {
    auto slot = std::make_shared<one_result<lock_grant>>();
    inner_.async_lock(credential, amount, key, [slot](result<lock_grant> r) { slot->set(std::move(r)); });
    return slot->get();
  }
  result<settlement> settle(std::string_view lock_id, credits real_cost) {
    auto slot = std::make_shared<one_result<settlement>>();
    inner_.async_settle(lock_id, real_cost, [slot](result<settlement> r) { slot->set(std::move(r)); });
    return slot->get();
  }
  result<settlement> release(std::string_view lock_id) {
    auto slot = std::make_shared<one_result<settlement>>();
    inner_.async_release(lock_id, [slot](result<settlement> r) { slot->set(std::move(r)); });
    return slot->get();
  }
  [[nodiscard]] bool health() { return true; }

 private:
  template <class T>
  class one_result {
   public:
    void set(result<T> r) {
      {
        std::lock_guard guard(mutex_);
        if (value_) throw std::logic_error("tollgate: an async ledger called a completion handler twice");
        value_.emplace(std::move(r));
      }
      done_.notify_all();
    }
    result<T> get() {
      std::unique_lock guard(mutex_);
      done_.wait(guard, [this] { return value_.has_value(); });
      return std::move(*value_);
    }

   private:
    std::mutex mutex_;
    std::condition_variable done_;
    std::optional<result<T>> value_;
  };

  L& inner_;
};

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTING_AWAITING_LEDGER_HPP
