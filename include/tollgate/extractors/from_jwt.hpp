// SPDX-License-Identifier: MIT
// from_jwt<"sub">: the user id is a claim of a verified HS256 bearer token.
#ifndef TOLLGATE_EXTRACTORS_FROM_JWT_HPP
#define TOLLGATE_EXTRACTORS_FROM_JWT_HPP

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/extractors/extractor.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/jwt/bearer.hpp>
#include <tollgate/jwt/verifier.hpp>

namespace tollgate {

/// Reads the id from claim `Claim` of `Authorization: Bearer <JWT>`, only after the token passed
/// `verifier` (signature, alg, exp/nbf/iat, aud, ver). A string claim is the id as is; an integer
/// claim is written in decimal; anything else, or an invalid token, means no id. Stateful (it holds
/// the verifier), so pass it to `metered` as an instance.
///
///     tollgate::jwt::verify_options opts;
///     opts.audience = "api";
///     opts.version = std::nullopt;
///     tollgate::from_jwt<"sub"> by_subject{tollgate::jwt::verifier{tollgate::redacted{secret}, opts}};
template <fixed_string Claim>
class from_jwt {
 public:
  explicit from_jwt(jwt::verifier verifier) : verifier_(std::move(verifier)) {}

  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const {
    const auto header = r.header("Authorization");
    if (!header) return std::nullopt;
    const auto token = jwt::bearer_token(*header);
    if (!token) return std::nullopt;
    const auto result = verifier_.verify(*token);
    if (!result) return std::nullopt;
    const auto claim = result.claims.find(Claim.view());
    if (claim == result.claims.end()) return std::nullopt;
    if (claim->is_string()) {
      auto id = claim->template get<std::string>();
      if (id.empty()) return std::nullopt;
      return id;
    }
    if (claim->is_number_integer()) return claim->dump();
    return std::nullopt;
  }
  [[nodiscard]] std::string source() const {
    return "the '" + std::string(Claim.view()) + "' claim of a valid 'Authorization: Bearer <JWT>' header";
  }

  [[nodiscard]] const jwt::verifier& verifier() const noexcept { return verifier_; }

 private:
  jwt::verifier verifier_;
};
static_assert(extractor<from_jwt<"sub">>);

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FROM_JWT_HPP
