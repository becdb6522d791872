// SPDX-License-Identifier: MIT
// A move-only, type-erased callable: what std::move_only_function (C++23) is, for completion handlers.
#ifndef TOLLGATE_UNIQUE_FUNCTION_HPP
#define TOLLGATE_UNIQUE_FUNCTION_HPP

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tollgate {

template <class Signature>
class unique_function;

/// Holds any callable with this signature, copyable or not (a handler capturing a unique_ptr, an
/// Asio completion handler), and calls it once, as an rvalue: `std::move(f)(args...)`, as completion
/// handlers are called. Empty when default-constructed or moved from. A callable of up to six
/// pointers that moves without throwing is kept inline: most completion handlers cost no allocation.
template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() noexcept = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, unique_function> && std::is_invocable_r_v<R, std::decay_t<F>&&, Args...>)
  unique_function(F&& f) {  // NOLINT: implicit like std::function
    using stored = std::decay_t<F>;
    if constexpr (fits_inline<stored>) {
      ::new (static_cast<void*>(storage_)) stored(std::forward<F>(f));
      ops_ = &inline_ops<stored>;
    } else {
      ::new (static_cast<void*>(storage_)) stored*(new stored(std::forward<F>(f)));
      ops_ = &heap_ops<stored>;
    }
  }

  unique_function(unique_function&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) ops_->relocate(other.storage_, storage_);
    other.ops_ = nullptr;
  }
  unique_function& operator=(unique_function&& other) noexcept {
    if (this != &other) {
      unique_function taken(std::move(other));  // first: `other` may live inside the callable reset() destroys
      reset();
      ops_ = taken.ops_;
      if (ops_ != nullptr) ops_->relocate(taken.storage_, storage_);
      taken.ops_ = nullptr;
    }
    return *this;
  }
  ~unique_function() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  /// Calls the callable once, as an rvalue. Precondition: not empty.
  R operator()(Args... args) && { return ops_->call(storage_, std::forward<Args>(args)...); }

 private:
  static constexpr std::size_t capacity = 6 * sizeof(void*);

  template <class F>
  static constexpr bool fits_inline = sizeof(F) <= capacity && alignof(F) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<F>;

  struct operations {
    R (*call)(void* storage, Args&&... args);
    void (*relocate)(void* from, void* to) noexcept;  // move-constructs into `to`, destroys `from`
    void (*destroy)(void* storage) noexcept;
  };

  template <class F>
  static constexpr operations inline_ops{
      [](void* s, Args&&... args) -> R { return std::move(*std::launder(static_cast<F*>(s)))(std::forward<Args>(args)...); },
      [](void* from, void* to) noexcept {
        F* source = std::launder(static_cast<F*>(from));
        ::new (to) F(std::move(*source));
        source->~F();
      },
      [](void* s) noexcept { std::launder(static_cast<F*>(s))->~F(); },
  };
  template <class F>
  static constexpr operations heap_ops{
      [](void* s, Args&&... args) -> R { return std::move(**std::launder(static_cast<F**>(s)))(std::forward<Args>(args)...); },
      [](void* from, void* to) noexcept { ::new (to) F*(*std::launder(static_cast<F**>(from))); },
      [](void* s) noexcept { delete *std::launder(static_cast<F**>(s)); },
  };

  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char storage_[capacity];
  const operations* ops_ = nullptr;
};

/// A unit of work handed to an executor: what `metered::async_call` gives its `resume`.
using unique_task = unique_function<void()>;

}  // namespace tollgate

#endif  // TOLLGATE_UNIQUE_FUNCTION_HPP
