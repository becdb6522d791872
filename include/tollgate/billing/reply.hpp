// SPDX-License-Identifier: MIT
// billing::reply: what an endpoint answers (status, headers, JSON body), before any framework sees it.
#ifndef TOLLGATE_BILLING_REPLY_HPP
#define TOLLGATE_BILLING_REPLY_HPP

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/detail/ascii.hpp>
#include <tollgate/http/response.hpp>

namespace tollgate::billing {

/// A framework-agnostic answer: status, extra headers, and a JSON body (Content-Type application/json).
struct reply {
  int status = 200;
  /// Headers besides Content-Type, e.g. `WWW-Authenticate: Bearer` on a 401.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static constexpr std::string_view content_type = "application/json";

  /// The first header called `name` (case-insensitive).
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (detail::iequals(k, name)) return std::string_view(v);
    return std::nullopt;
  }

  /// Writes status, headers and body to any response tollgate can write (see tollgate::response).
  void write_to(const response_ref& out) const {
    out.set_status(status);
    for (const auto& [k, v] : headers) out.set_header(k, v);
    out.set_content(body, content_type);
  }
};

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_REPLY_HPP
