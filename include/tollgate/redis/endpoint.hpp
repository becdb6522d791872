// SPDX-License-Identifier: MIT
// Where a Redis server is and how to log in: parsed from `redis://[user:password@]host:port[/db]`.
#ifndef TOLLGATE_REDIS_ENDPOINT_HPP
#define TOLLGATE_REDIS_ENDPOINT_HPP

#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/logging/redacted.hpp>

namespace tollgate::redis {

/// A malformed Redis URL; raised at start-up so a bad deployment fails to boot.
class url_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A Redis server and the login to use on it. The password prints redacted.
struct endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;   ///< ACL user (Redis 6+); empty: the default user
  redacted password;  ///< empty: no AUTH
  int database = 0;   ///< SELECT n after connecting (always 0 on a cluster)

  /// "host:port", for logs (never the password).
  [[nodiscard]] std::string address() const { return fmt::format("{}:{}", host, port); }

  /// Parses `redis://[[user]:password@]host[:port][/db]`. User and password may be percent-encoded;
  /// an IPv6 host goes in brackets. Throws url_error naming what is wrong (never echoing a password).
  [[nodiscard]] static endpoint parse(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    if (url.substr(0, scheme.size()) != scheme) throw url_error("a Redis URL starts with redis:// (rediss:// is not supported)");
    std::string_view rest = url.substr(scheme.size());
    endpoint e;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
      const std::string_view login = rest.substr(0, at);
      rest = rest.substr(at + 1);
      const auto colon = login.find(':');
      const auto user = percent_decode(login.substr(0, colon));
      const auto password = colon == std::string_view::npos ? std::optional<std::string>{""} : percent_decode(login.substr(colon + 1));
      if (!user || !password) throw url_error("the Redis URL's user or password has a bad percent-escape");
      if (colon == std::string_view::npos) {
        e.password = redacted(*user);  // redis://secret@host: a lone word is the password, as redis-cli reads it
      } else {
        e.user = *user;
        e.password = redacted(*password);
      }
    }
    std::string_view path;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      path = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {  // [::1]:6379
      const auto close = rest.find(']');
      if (close == std::string_view::npos) throw url_error("the Redis URL's IPv6 host has no closing ']'");
      e.host = std::string(rest.substr(1, close - 1));
      rest = rest.substr(close + 1);
      if (!rest.empty() && rest.front() != ':') throw url_error("unexpected text after the Redis URL's host");
      if (!rest.empty()) port_text = rest.substr(1);
    } else if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
      e.host = std::string(rest.substr(0, colon));
      port_text = rest.substr(colon + 1);
    } else {
      e.host = std::string(rest);
    }
    if (e.host.empty()) throw url_error("the Redis URL has no host");
    if (e.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != std::string::npos)
      throw url_error("the Redis URL's host must be a host name or an IP address");
    if (!port_text.empty() && (!to_int(port_text, e.port) || e.port < 1 || e.port > 65535))
      throw url_error(fmt::format("the Redis URL's port '{}' is not a port number", port_text));
    if (!path.empty() && (!to_int(path, e.database) || e.database < 0))
      throw url_error(fmt::format("the Redis URL's database '{}' is not a number", path));
    return e;
  }

 private:
  static bool to_int(std::string_view text, int& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
  }
  static std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%') {
        out += text[i];
        continue;
      }
      int value = 0;
      if (i + 2 >= text.size()) return std::nullopt;
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc{} || end != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(value);
      i += 2;
    }
    return out;
  }
};

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_ENDPOINT_HPP
