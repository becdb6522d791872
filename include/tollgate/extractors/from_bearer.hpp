// SPDX-License-Identifier: MIT
// from_bearer: the id is the raw credential of `Authorization: Bearer <key>`, as API keys are sent.
#ifndef TOLLGATE_EXTRACTORS_FROM_BEARER_HPP
#define TOLLGATE_EXTRACTORS_FROM_BEARER_HPP

#include <optional>
#include <string>
#include <string_view>

#include <tollgate/detail/ascii.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// Takes the credential after `Bearer ` (scheme case-insensitive) as the id to charge; the ledger
/// maps it to its owner. The credential is a secret: tollgate never logs it (see redacted).
/// It is not verified here; use from_jwt (tollgate/jwt.hpp) for signed tokens.
struct from_bearer {
  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const {
    auto value = r.header("Authorization");
    if (!value) return std::nullopt;
    auto text = detail::trim(*value);
    constexpr std::string_view scheme = "bearer";
    if (text.size() <= scheme.size() || !detail::iequals(text.substr(0, scheme.size()), scheme) ||
        !detail::is_space(text[scheme.size()]))
      return std::nullopt;
    auto credential = detail::trim(text.substr(scheme.size()));
    if (credential.empty() || credential.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
    return std::string(credential);
  }
  [[nodiscard]] std::string_view source() const noexcept { return "an 'Authorization: Bearer <credential>' header"; }
};

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FROM_BEARER_HPP
