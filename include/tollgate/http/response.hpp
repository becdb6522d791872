// SPDX-License-Identifier: MIT
// The framework-agnostic response the core writes: a concept, a plain struct, and a type-erased reference.
#ifndef TOLLGATE_HTTP_RESPONSE_HPP
#define TOLLGATE_HTTP_RESPONSE_HPP

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/detail/ascii.hpp>
#include <tollgate/http/stream.hpp>

namespace tollgate {

/// A response tollgate can write and measure. Requirements, for `R& r`, `const R& cr`:
///   1. `cr.status()` → `int`, and `r.set_status(int)`;
///   2. `r.set_header(name, value)` replaces a header;
///   3. `r.set_content(std::string body, std::string_view content_type)`;
///   4. `cr.body_size()` → `std::size_t`: the bytes of body sent (for by_response_size).
///   5. `cr.header(name)` → `std::optional<std::string_view>`.
template <class R>
concept response = requires(R& r, const R& cr, std::string_view name, std::string body) {
  { cr.status() } -> std::convertible_to<int>;
  r.set_status(200);
  r.set_header(name, name);
  r.set_content(std::move(body), name);
  { cr.body_size() } -> std::convertible_to<std::size_t>;
  { cr.header(name) } -> std::same_as<std::optional<std::string_view>>;
};

/// How tollgate writes a response type; adapters specialise it for framework types. A
/// specialisation may also provide `static bool observe_stream(T&, std::shared_ptr<stream_observer>)`
/// when the framework can stream (see stream_observer), and `static void abandon_stream(T&)`, which
/// drops a stream the handler set before it threw, so it is never sent.
template <class T>
struct response_traits;

template <response R>
struct response_traits<R> {
  static int status(const R& r) { return r.status(); }
  static void set_status(R& r, int s) { r.set_status(s); }
  static void set_header(R& r, std::string_view n, std::string_view v) { r.set_header(n, v); }
  static void set_content(R& r, std::string body, std::string_view type) { r.set_content(std::move(body), type); }
  static std::size_t body_size(const R& r) { return r.body_size(); }
  static std::optional<std::string_view> header(const R& r, std::string_view n) { return r.header(n); }
};

/// The response side of `request_wrapper`: an adapter whose framework response needs more than it
/// holds (Beast's has no streamed body of this shape) names its wrapper, deriving from the
/// framework's type: `template <> struct response_wrapper<Native> { using type = Wrapper; };`.
template <class Native>
struct response_wrapper {};

/// A plain response, for tests and for frameworks without an adapter.
struct basic_response {
  int status_ = 200;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;

  [[nodiscard]] int status() const noexcept { return status_; }
  void set_status(int s) noexcept { status_ = s; }
  void set_header(std::string_view name, std::string_view value) {
    for (auto& [k, v] : headers_)
      if (detail::iequals(k, name)) { v = std::string(value); return; }
    headers_.emplace_back(std::string(name), std::string(value));
  }
  void set_content(std::string body, std::string_view content_type) {
    body_ = std::move(body);
    set_header("Content-Type", content_type);
  }
  [[nodiscard]] std::size_t body_size() const noexcept { return body_.size(); }
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers_)
      if (detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
  }
  [[nodiscard]] const std::string& body() const noexcept { return body_; }
};
static_assert(response<basic_response>);

/// A non-owning, type-erased view of any response with `response_traits`; models `response`.
class response_ref {
 public:
  template <class T>
    requires requires { sizeof(response_traits<T>); } && (!std::same_as<T, response_ref>)
  response_ref(T& native) noexcept : object_(&native), vtable_(&vtable_for<T>) {}  // NOLINT: implicit by design

  [[nodiscard]] int status() const { return vtable_->status(object_); }
  void set_status(int s) const { vtable_->set_status(object_, s); }
  void set_header(std::string_view n, std::string_view v) const { vtable_->set_header(object_, n, v); }
  void set_content(std::string body, std::string_view type) const { vtable_->set_content(object_, std::move(body), type); }
  [[nodiscard]] std::size_t body_size() const { return vtable_->body_size(object_); }
  [[nodiscard]] std::optional<std::string_view> header(std::string_view n) const { return vtable_->header(object_, n); }

  /// If the handler left a streamed body on the response, hooks `observer` into it and returns
  /// true; false when the body is already complete (or the framework cannot stream).
  bool observe_stream(std::shared_ptr<stream_observer> observer) const { return vtable_->observe_stream(object_, std::move(observer)); }

  /// Drops a streamed body the handler had set (it threw afterwards): nothing of it is sent.
  void abandon_stream() const { vtable_->abandon_stream(object_); }

  /// The framework's own response, or nullptr when this view refers to another type.
  template <class T>
  [[nodiscard]] T* native() const noexcept {
    if constexpr (requires { typename response_wrapper<T>::type; }) {
      using wrapper = typename response_wrapper<T>::type;
      return vtable_ == &vtable_for<wrapper> ? static_cast<T*>(static_cast<wrapper*>(object_)) : nullptr;
    } else if constexpr (requires { sizeof(response_traits<T>); }) {
      return vtable_ == &vtable_for<T> ? static_cast<T*>(object_) : nullptr;
    } else {
      return nullptr;  // not a response type at all
    }
  }

 private:
  struct vtable {
    int (*status)(const void*);
    void (*set_status)(void*, int);
    void (*set_header)(void*, std::string_view, std::string_view);
    void (*set_content)(void*, std::string, std::string_view);
    std::size_t (*body_size)(const void*);
    std::optional<std::string_view> (*header)(const void*, std::string_view);
    bool (*observe_stream)(void*, std::shared_ptr<stream_observer>);
    void (*abandon_stream)(void*);
  };
  template <class T>
  static constexpr vtable vtable_for{
      [](const void* o) { return response_traits<T>::status(*static_cast<const T*>(o)); },
      [](void* o, int s) { response_traits<T>::set_status(*static_cast<T*>(o), s); },
      [](void* o, std::string_view n, std::string_view v) { response_traits<T>::set_header(*static_cast<T*>(o), n, v); },
      [](void* o, std::string b, std::string_view t) { response_traits<T>::set_content(*static_cast<T*>(o), std::move(b), t); },
      [](const void* o) { return response_traits<T>::body_size(*static_cast<const T*>(o)); },
      [](const void* o, std::string_view n) { return response_traits<T>::header(*static_cast<const T*>(o), n); },
      [](void* o, std::shared_ptr<stream_observer> observer) {
        if constexpr (requires { response_traits<T>::observe_stream(*static_cast<T*>(o), std::move(observer)); }) {
          return response_traits<T>::observe_stream(*static_cast<T*>(o), std::move(observer));
        } else {
          return false;
        }
      },
      [](void* o) {
        if constexpr (requires { response_traits<T>::abandon_stream(*static_cast<T*>(o)); })
          response_traits<T>::abandon_stream(*static_cast<T*>(o));
      },
  };

  void* object_;
  const vtable* vtable_;
};

}  // namespace tollgate

#endif  // TOLLGATE_HTTP_RESPONSE_HPP
