// SPDX-License-Identifier: MIT
// Boost.Beast's request and response as tollgate reads and writes them (opt-in: includes Beast).
#ifndef TOLLGATE_ADAPTERS_BEAST_MESSAGE_HPP
#define TOLLGATE_ADAPTERS_BEAST_MESSAGE_HPP

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <tollgate/detail/callable_traits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/http/stream.hpp>

namespace tollgate::beast {

namespace http = boost::beast::http;

/// A Beast request as tollgate reads it: the message itself (it derives from
/// `http::request<http::string_body>`, so every Beast call works on it) plus its path and query
/// parameters, percent-decoded once when it is built. Handlers may take either type.
class request : public http::request<http::string_body> {
 public:
  using message_type = http::request<http::string_body>;

  request() = default;
  explicit request(message_type message) : message_type(std::move(message)) { decode_target(); }

  /// The target's path, decoded (`/a%20b?x=1` → `/a b`).
  [[nodiscard]] std::string_view path() const noexcept { return path_; }
  /// The first query parameter of that name, decoded (`+` is a space); nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> query(std::string_view name) const {
    for (const auto& [key, value] : params_)
      if (key == name) return std::string_view(value);
    return std::nullopt;
  }
  /// Every query parameter, decoded, in the order sent.
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& params() const noexcept { return params_; }

 private:
  // Malformed escapes are kept as sent, as cpp-httplib does.
  static std::string percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
        i += 2;
      } else {
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
      }
    }
    return out;
  }
  static int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  void decode_target() {
    const std::string_view raw(target().data(), target().size());
    const auto question = raw.find('?');
    path_ = percent_decode(raw.substr(0, question), /*plus_is_space=*/false);
    if (question == std::string_view::npos) return;
    std::string_view rest = raw.substr(question + 1);
    if (const auto fragment = rest.find('#'); fragment != std::string_view::npos) rest = rest.substr(0, fragment);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      params_.emplace_back(percent_decode(pair.substr(0, eq), true),
                           eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true));
    }
  }

  std::string path_;
  std::vector<std::pair<std::string, std::string>> params_;
};

/// What a streamed body writes its chunks into, one call of its source at a time.
class chunk_sink {
 public:
  /// Adds `data` to the chunk being built; it is sent when the source returns.
  void write(std::string_view data) { pending_.append(data.data(), data.size()); }
  /// Ends the body after this call's chunk.
  void done() noexcept { done_ = true; }

  [[nodiscard]] bool is_done() const noexcept { return done_; }
  [[nodiscard]] std::string& pending() noexcept { return pending_; }

 private:
  std::string pending_;
  bool done_ = false;
};

/// Produces a streamed body: called on the connection's executor, once per chunk, after the
/// previous chunk was written; returns false to abort the response (the connection is closed).
/// It must not block: it runs on the event loop. A call that writes nothing and does not call
/// `done()` means "nothing yet": it is called again after a pause that doubles from 1 to 50 ms,
/// and a source silent for longer than the server's write timeout ends the stream.
using chunk_source = std::function<bool(chunk_sink&)>;

/// A Beast response as tollgate writes it: `http::response<http::string_body>` (handlers may take
/// either type) plus an optional streamed body sent with chunked transfer encoding.
class response : public http::response<http::string_body> {
 public:
  using message_type = http::response<http::string_body>;

  response() { result(http::status::ok); }

  /// Sends the body in chunks from `source` instead of `body()`.
  void set_chunked_content(std::string_view content_type, chunk_source source) {
    set(http::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
    source_ = std::move(source);
  }

  [[nodiscard]] bool streams() const noexcept { return static_cast<bool>(source_); }
  [[nodiscard]] chunk_source& source() noexcept { return source_; }
  /// Who hears about the stream's progress (metered's charge), if anyone.
  [[nodiscard]] const std::shared_ptr<stream_observer>& observer() const noexcept { return observer_; }

 private:
  friend struct response_traits<response>;

  chunk_source source_;
  std::shared_ptr<stream_observer> observer_;
};

}  // namespace tollgate::beast

namespace tollgate {

template <>
struct request_traits<beast::request> {
  static std::optional<std::string_view> header(const beast::request& r, std::string_view name) {
    auto it = r.find(boost::beast::string_view(name.data(), name.size()));  // case-insensitive
    if (it == r.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  }
  static std::optional<std::string_view> query(const beast::request& r, std::string_view name) { return r.query(name); }
  static std::string_view body(const beast::request& r) { return r.body(); }
  static std::string_view method(const beast::request& r) {
    const auto m = r.method_string();
    return {m.data(), m.size()};
  }
  static std::string_view path(const beast::request& r) { return r.path(); }
};

template <>
struct response_traits<beast::response> {
  static int status(const beast::response& r) { return static_cast<int>(r.result_int()); }
  static void set_status(beast::response& r, int s) { r.result(static_cast<unsigned>(s)); }
  static void set_header(beast::response& r, std::string_view name, std::string_view value) {
    r.set(boost::beast::string_view(name.data(), name.size()), boost::beast::string_view(value.data(), value.size()));
  }
  static void set_content(beast::response& r, std::string body, std::string_view type) {
    r.body() = std::move(body);
    set_header(r, "Content-Type", type);
  }
  static std::size_t body_size(const beast::response& r) { return r.body().size(); }
  static std::optional<std::string_view> header(const beast::response& r, std::string_view name) {
    auto it = r.find(boost::beast::string_view(name.data(), name.size()));
    if (it == r.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  }
  /// A streamed body reports to `observer` as the writer sends it (see beast::async_write_response).
  static bool observe_stream(beast::response& r, std::shared_ptr<stream_observer> observer) {
    if (!r.source_) return false;
    r.observer_ = std::move(observer);
    return true;
  }
  static void abandon_stream(beast::response& r) {
    r.source_ = nullptr;
    r.observer_.reset();
  }
};

template <>
struct request_wrapper<beast::request::message_type> {
  using type = beast::request;
};
template <>
struct response_wrapper<beast::response::message_type> {
  using type = beast::response;
};

/// A handler with a Beast parameter that metered cannot call: one message in Beast's types.
template <>
struct detail::handler_diagnostic<beast::request> {
  static constexpr bool known = true;
  template <class Handler>
  static constexpr bool refuse() {
    static_assert(dependent_false<Handler>,
                  "tollgate: the handler must take (const tollgate::beast::request&, tollgate::beast::response&) or "
                  "(const tollgate::beast::request&, tollgate::beast::response&, tollgate::metering_context&); "
                  "Beast's http::request<http::string_body> and http::response<http::string_body> may stand in for them");
    return false;
  }
};
template <>
struct detail::handler_diagnostic<beast::response> : detail::handler_diagnostic<beast::request> {};
template <>
struct detail::handler_diagnostic<beast::request::message_type> : detail::handler_diagnostic<beast::request> {};
template <>
struct detail::handler_diagnostic<beast::response::message_type> : detail::handler_diagnostic<beast::request> {};

}  // namespace tollgate

#endif  // TOLLGATE_ADAPTERS_BEAST_MESSAGE_HPP
