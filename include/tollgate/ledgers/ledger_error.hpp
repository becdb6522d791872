// SPDX-License-Identifier: MIT
// The closed set of ways a ledger call can fail, and result<T>: a value or a ledger_error.
#ifndef TOLLGATE_LEDGERS_LEDGER_ERROR_HPP
#define TOLLGATE_LEDGERS_LEDGER_ERROR_HPP

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tollgate {

/// Why a ledger refused or failed. The list is closed so callers can map every case.
enum class ledger_errc {
  insufficient_funds,   ///< lock: the available balance is below the amount
  unknown_credential,   ///< lock: no user owns this credential / user id
  invalid_amount,       ///< lock or settle: negative amount, or a cost above what the ledger allows
  lock_not_found,       ///< settle/release: no such lock (never existed, expired, or already reaped)
  conflicting_settlement,  ///< settle: the lock was already settled for a different cost
  unavailable,          ///< transient: connection refused, timeout, 5xx, circuit open — safe to retry
  unauthorized,         ///< the ledger rejected tollgate's own credentials (a configuration error)
  misconfigured,        ///< anything else that is the operator's to fix
};

[[nodiscard]] constexpr std::string_view to_string(ledger_errc e) noexcept {
  switch (e) {
    case ledger_errc::insufficient_funds: return "insufficient_funds";
    case ledger_errc::unknown_credential: return "unknown_credential";
    case ledger_errc::invalid_amount: return "invalid_amount";
    case ledger_errc::lock_not_found: return "lock_not_found";
    case ledger_errc::conflicting_settlement: return "conflicting_settlement";
    case ledger_errc::unavailable: return "unavailable";
    case ledger_errc::unauthorized: return "unauthorized";
    case ledger_errc::misconfigured: return "misconfigured";
  }
  return "unknown";
}

/// True for the failures worth retrying later with the same idempotency key / lock id.
[[nodiscard]] constexpr bool is_transient(ledger_errc e) noexcept { return e == ledger_errc::unavailable; }

/// A ledger failure: the case, and a message for logs and 4xx/5xx details. The message must never
/// contain a credential.
struct ledger_error {
  ledger_errc code;
  std::string message;
  /// For `unavailable`: the request may have reached the ledger and been applied before its
  /// answer was lost (a timeout, a 5xx after sending). A lock in that state may need releasing.
  bool may_have_applied = false;
};

/// Thrown by result::value() on an error result.
class bad_result_access : public std::logic_error {
 public:
  explicit bad_result_access(const ledger_error& e)
      : std::logic_error("tollgate: value() on a failed ledger result (" + std::string(to_string(e.code)) + ": " + e.message + ")") {}
};

/// A value or a ledger_error (std::expected is C++23).
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}               // NOLINT: implicit by design
  result(ledger_error error) : state_(std::in_place_index<1>, std::move(error)) {}    // NOLINT: implicit by design

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { check(); return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { check(); return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { check(); return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The error; only on a failed result.
  [[nodiscard]] const ledger_error& error() const { return std::get<1>(state_); }

 private:
  void check() const {
    if (state_.index() != 0) throw bad_result_access(std::get<1>(state_));
  }
  std::variant<T, ledger_error> state_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LEDGERS_LEDGER_ERROR_HPP
