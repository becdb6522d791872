// SPDX-License-Identifier: MIT
// The framework-agnostic request the core reads: a concept, a plain struct, and a type-erased reference.
#ifndef TOLLGATE_HTTP_REQUEST_HPP
#define TOLLGATE_HTTP_REQUEST_HPP

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/detail/ascii.hpp>

namespace tollgate {

/// A request tollgate can read. Requirements, for `const R& r` and `std::string_view name`:
///   1. `r.header(name)` → `std::optional<std::string_view>`: the first value, name case-insensitive;
///   2. `r.query(name)` → `std::optional<std::string_view>`: a query parameter, decoded;
///   3. `r.body()` → convertible to `std::string_view`;
///   4. `r.method()` and `r.path()` → convertible to `std::string_view`.
/// A framework's own request type need not model it: specialise `request_traits` instead
/// (see tollgate/adapters/httplib.hpp).
template <class R>
concept request = requires(const R& r, std::string_view name) {
  { r.header(name) } -> std::same_as<std::optional<std::string_view>>;
  { r.query(name) } -> std::same_as<std::optional<std::string_view>>;
  { r.body() } -> std::convertible_to<std::string_view>;
  { r.method() } -> std::convertible_to<std::string_view>;
  { r.path() } -> std::convertible_to<std::string_view>;
};

/// How tollgate reads a request type. The primary template serves every type modelling `request`;
/// adapters specialise it for framework types with the same five static functions.
template <class T>
struct request_traits;

template <request R>
struct request_traits<R> {
  static std::optional<std::string_view> header(const R& r, std::string_view name) { return r.header(name); }
  static std::optional<std::string_view> query(const R& r, std::string_view name) { return r.query(name); }
  static std::string_view body(const R& r) { return r.body(); }
  static std::string_view method(const R& r) { return r.method(); }
  static std::string_view path(const R& r) { return r.path(); }
};

/// For a framework whose request lacks what tollgate reads (Beast keeps the query undecoded in the
/// target), the adapter serves a wrapper that derives from the framework's type and names it here:
/// `template <> struct request_wrapper<Native> { using type = Wrapper; };`. Handlers may then take
/// the framework's own type, and `request_ref::native<Native>()` finds it inside the wrapper.
template <class Native>
struct request_wrapper {};

/// A plain request, for tests and for frameworks without an adapter.
struct basic_request {
  std::string method_ = "GET";
  std::string path_ = "/";
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<std::pair<std::string, std::string>> query_;
  std::string body_;

  basic_request& with_method(std::string m) { method_ = std::move(m); return *this; }
  basic_request& with_path(std::string p) { path_ = std::move(p); return *this; }
  basic_request& with_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  basic_request& with_query(std::string name, std::string value) {
    query_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  basic_request& with_body(std::string b) { body_ = std::move(b); return *this; }

  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers_)
      if (detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::string_view> query(std::string_view name) const {
    for (const auto& [k, v] : query_)
      if (k == name) return std::string_view(v);
    return std::nullopt;
  }
  [[nodiscard]] std::string_view body() const noexcept { return body_; }
  [[nodiscard]] std::string_view method() const noexcept { return method_; }
  [[nodiscard]] std::string_view path() const noexcept { return path_; }
};
static_assert(request<basic_request>);

/// A non-owning, type-erased view of any request with `request_traits`. It models `request`, and
/// `native<T>()` gives the framework object back when the type matches.
class request_ref {
 public:
  template <class T>
    requires requires { sizeof(request_traits<T>); } && (!std::same_as<T, request_ref>)
  request_ref(const T& native) noexcept : object_(&native), vtable_(&vtable_for<T>) {}  // NOLINT: implicit by design

  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const { return vtable_->header(object_, name); }
  [[nodiscard]] std::optional<std::string_view> query(std::string_view name) const { return vtable_->query(object_, name); }
  [[nodiscard]] std::string_view body() const { return vtable_->body(object_); }
  [[nodiscard]] std::string_view method() const { return vtable_->method(object_); }
  [[nodiscard]] std::string_view path() const { return vtable_->path(object_); }

  /// The framework's own request, or nullptr when this view refers to another type.
  template <class T>
  [[nodiscard]] const T* native() const noexcept {
    if constexpr (requires { typename request_wrapper<T>::type; }) {
      using wrapper = typename request_wrapper<T>::type;
      return vtable_ == &vtable_for<wrapper> ? static_cast<const T*>(static_cast<const wrapper*>(object_)) : nullptr;
    } else if constexpr (requires { sizeof(request_traits<T>); }) {
      return vtable_ == &vtable_for<T> ? static_cast<const T*>(object_) : nullptr;
    } else {
      return nullptr;  // not a request type at all
    }
  }

 private:
  struct vtable {
    std::optional<std::string_view> (*header)(const void*, std::string_view);
    std::optional<std::string_view> (*query)(const void*, std::string_view);
    std::string_view (*body)(const void*);
    std::string_view (*method)(const void*);
    std::string_view (*path)(const void*);
  };
  template <class T>
  static constexpr vtable vtable_for{
      [](const void* o, std::string_view n) { return request_traits<T>::header(*static_cast<const T*>(o), n); },
      [](const void* o, std::string_view n) { return request_traits<T>::query(*static_cast<const T*>(o), n); },
      [](const void* o) { return std::string_view(request_traits<T>::body(*static_cast<const T*>(o))); },
      [](const void* o) { return std::string_view(request_traits<T>::method(*static_cast<const T*>(o))); },
      [](const void* o) { return std::string_view(request_traits<T>::path(*static_cast<const T*>(o))); },
  };

  const void* object_;
  const vtable* vtable_;
};
static_assert(request<request_ref>);

}  // namespace tollgate

#endif  // TOLLGATE_HTTP_REQUEST_HPP
