// SPDX-License-Identifier: MIT
// The cpp-httplib adapter: lets tollgate read httplib::Request and write httplib::Response.
// Including this header is the opt-in; the core never includes httplib.h.
#ifndef TOLLGATE_ADAPTERS_HTTPLIB_HPP
#define TOLLGATE_ADAPTERS_HTTPLIB_HPP

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>

#include <tollgate/detail/callable_traits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/http/stream.hpp>

namespace tollgate {

template <>
struct request_traits<httplib::Request> {
  static std::optional<std::string_view> header(const httplib::Request& r, std::string_view name) {
    auto it = r.headers.find(std::string(name));  // httplib compares header names case-insensitively
    if (it == r.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  static std::optional<std::string_view> query(const httplib::Request& r, std::string_view name) {
    auto it = r.params.find(std::string(name));
    if (it == r.params.end()) return std::nullopt;
    return std::string_view(it->second);
  }
  static std::string_view body(const httplib::Request& r) { return r.body; }
  static std::string_view method(const httplib::Request& r) { return r.method; }
  static std::string_view path(const httplib::Request& r) { return r.path; }
};

template <>
struct response_traits<httplib::Response> {
  // httplib leaves status at -1 until it sends; a handler that did not set it answers 200.
  static int status(const httplib::Response& r) { return r.status == -1 ? 200 : r.status; }
  static void set_status(httplib::Response& r, int s) { r.status = s; }
  static void set_header(httplib::Response& r, std::string_view name, std::string_view value) {
    const std::string key(name);
    r.headers.erase(key);  // httplib's own set_header appends; tollgate's contract is "replace"
    r.set_header(key, std::string(value));
  }
  static void set_content(httplib::Response& r, std::string body, std::string_view type) {
    r.body = std::move(body);
    set_header(r, "Content-Type", type);
  }
  static std::size_t body_size(const httplib::Response& r) { return r.body.size(); }
  static std::optional<std::string_view> header(const httplib::Response& r, std::string_view name) {
    auto it = r.headers.find(std::string(name));
    if (it == r.headers.end()) return std::nullopt;
    return std::string_view(it->second);
  }

  /// A handler that set a content provider and then threw: httplib would still send the stream
  /// with its 500, after the charge was refunded (and with a provider that may use the freed
  /// metering context). Release the provider's resources and drop it.
  static void abandon_stream(httplib::Response& r) {
    if (!r.content_provider_) return;
    auto releaser = std::move(r.content_provider_resource_releaser_);
    r.content_provider_ = nullptr;
    r.content_provider_resource_releaser_ = nullptr;
    r.content_length_ = 0;
    r.is_chunked_content_provider_ = false;
    if (releaser) {
      try {
        releaser(false);
      } catch (...) {
      }
    }
  }

  /// Wraps a content provider the handler set (chunked or not): counts the bytes the client
  /// accepted, turns an exception inside the stream into an aborted stream (httplib would let it
  /// escape its worker thread), and reports the end from the resource releaser, which httplib
  /// calls exactly once, with whether the whole body was written.
  static bool observe_stream(httplib::Response& r, std::shared_ptr<stream_observer> observer) {
    if (!r.content_provider_) return false;
    r.content_provider_ = [inner = std::move(r.content_provider_), observer](std::size_t offset, std::size_t length,
                                                                             httplib::DataSink& sink) {
      auto original_write = sink.write;
      sink.write = [&original_write, &observer](const char* data, std::size_t size) {
        const bool ok = original_write(data, size);
        if (ok) observer->delivered(size);
        return ok;
      };
      bool keep_going = false;
      try {
        keep_going = inner(offset, length, sink);
      } catch (const std::exception& e) {
        observer->failed(e.what());
      } catch (...) {
        observer->failed("unknown exception");
      }
      sink.write = std::move(original_write);
      return keep_going;
    };
    r.content_provider_resource_releaser_ = [inner = std::move(r.content_provider_resource_releaser_),
                                             observer = std::move(observer)](bool success) {
      if (inner) {
        try {
          inner(success);
        } catch (...) {  // the user's releaser must not keep the charge from settling
        }
      }
      observer->finished(success);
    };
    return true;
  }
};

/// A handler with an httplib parameter that metered cannot call (swapped, missing, extra or
/// non-const): one message that spells httplib's own handler signature.
template <>
struct detail::handler_diagnostic<httplib::Request> {
  static constexpr bool known = true;
  template <class Handler>
  static constexpr bool refuse() {
    static_assert(dependent_false<Handler>,
                  "tollgate: the handler must take (const httplib::Request&, httplib::Response&) or "
                  "(const httplib::Request&, httplib::Response&, tollgate::metering_context&); "
                  "const tollgate::request_ref& and const tollgate::response_ref& may stand in for either");
    return false;
  }
};
template <>
struct detail::handler_diagnostic<httplib::Response> : detail::handler_diagnostic<httplib::Request> {};

}  // namespace tollgate

#endif  // TOLLGATE_ADAPTERS_HTTPLIB_HPP
