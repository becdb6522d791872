// SPDX-License-Identifier: MIT
// from_query<"user_id">: the user id is a query parameter.
#ifndef TOLLGATE_EXTRACTORS_FROM_QUERY_HPP
#define TOLLGATE_EXTRACTORS_FROM_QUERY_HPP

#include <optional>
#include <string>
#include <string_view>

#include <tollgate/detail/ascii.hpp>
#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// Reads the id from query parameter `Name` (case-sensitive, as URLs are); empty counts as missing.
template <fixed_string Name>
struct from_query {
  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const { return detail::non_empty_trimmed(r.query(Name.view())); }
  [[nodiscard]] std::string source() const { return "the '" + std::string(Name.view()) + "' query parameter"; }
};

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FROM_QUERY_HPP
