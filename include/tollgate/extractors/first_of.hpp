// SPDX-License-Identifier: MIT
// first_of<A, B, ...>: the first extractor that finds an id wins.
#ifndef TOLLGATE_EXTRACTORS_FIRST_OF_HPP
#define TOLLGATE_EXTRACTORS_FIRST_OF_HPP

#include <optional>
#include <string>
#include <tuple>

#include <tollgate/extractors/extractor.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// Tries each extractor in order: `first_of<from_bearer, from_header<"X-User-ID">>`.
template <extractor... Extractors>
  requires(sizeof...(Extractors) > 0)
struct first_of {
  std::tuple<Extractors...> extractors_{};

  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const {
    std::optional<std::string> found;
    std::apply([&](const auto&... e) { ((found = e.extract(r), found.has_value()) || ...); }, extractors_);
    return found;
  }
  [[nodiscard]] std::string source() const {
    std::string out;
    std::apply([&](const auto&... e) {
      ((out += out.empty() ? "" : " or ", out += std::string_view(e.source())), ...);
    }, extractors_);
    return out;
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FIRST_OF_HPP
