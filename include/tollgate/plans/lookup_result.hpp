// SPDX-License-Identifier: MIT
// lookup_result<T>: a value, or a message saying why there is none (an unknown plan or limit name).
#ifndef TOLLGATE_PLANS_LOOKUP_RESULT_HPP
#define TOLLGATE_PLANS_LOOKUP_RESULT_HPP

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tollgate {

/// The result of a run-time lookup by name: `ok()` and `value()`, or `error()` in words.
///
///     auto free = tollgate::default_plans::lookup(name);
///     if (!free) log.warn("{}", free.error());   // "unknown plan 'pro': expected 'free', 'growth' or 'enterprise'"
template <class T>
class lookup_result {
 public:
  [[nodiscard]] static lookup_result success(T value) { return lookup_result(std::in_place_index<0>, std::move(value)); }
  [[nodiscard]] static lookup_result failure(std::string message) { return lookup_result(std::in_place_index<1>, std::move(message)); }

  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws std::logic_error carrying `error()` when there is none.
  [[nodiscard]] const T& value() const& {
    if (!ok()) throw std::logic_error(std::get<1>(state_));
    return std::get<0>(state_);
  }
  [[nodiscard]] T&& value() && {
    if (!ok()) throw std::logic_error(std::get<1>(state_));
    return std::get<0>(std::move(state_));
  }
  [[nodiscard]] const T* operator->() const { return &value(); }
  [[nodiscard]] const T& operator*() const& { return value(); }

  /// Why there is no value; empty when `ok()`.
  [[nodiscard]] const std::string& error() const noexcept {
    static const std::string none;
    return ok() ? none : std::get<1>(state_);
  }

 private:
  template <std::size_t I, class U>
  lookup_result(std::in_place_index_t<I> tag, U&& u) : state_(tag, std::forward<U>(u)) {}

  std::variant<T, std::string> state_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_LOOKUP_RESULT_HPP
