// SPDX-License-Identifier: MIT
// A move-only, type-erased callable: what std::move_only_function (C++23) is, for completion handlers.
#ifndef TOLLGATE_UNIQUE_FUNCTION_HPP
#define TOLLGATE_UNIQUE_FUNCTION_HPP

#include <memory>
#include <type_traits>
#include <utility>

namespace tollgate {

template <class Signature>
class unique_function;

/// Holds any callable with this signature, copyable or not (a handler capturing a unique_ptr, an
/// Asio completion handler), and calls it once, as an rvalue: `std::move(f)(args...)`, as completion
/// handlers are called. Empty when default-constructed or moved from.
template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() noexcept = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, unique_function> && std::is_invocable_r_v<R, std::decay_t<F>&&, Args...>)
  unique_function(F&& f) : callable_(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(f))) {}  // NOLINT: implicit like std::function

  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;

  explicit operator bool() const noexcept { return callable_ != nullptr; }
  R operator()(Args... args) && { return callable_->call(std::forward<Args>(args)...); }

 private:
  struct base {
    virtual ~base() = default;
    virtual R call(Args... args) = 0;
  };
  template <class F>
  struct holder final : base {
    explicit holder(F&& f) : f(std::move(f)) {}
    explicit holder(const F& f) : f(f) {}
    R call(Args... args) override { return std::move(f)(std::forward<Args>(args)...); }
    F f;
  };

  std::unique_ptr<base> callable_;
};

/// A unit of work handed to an executor: what `metered::async_call` gives its `resume`.
using unique_task = unique_function<void()>;

}  // namespace tollgate

#endif  // TOLLGATE_UNIQUE_FUNCTION_HPP
