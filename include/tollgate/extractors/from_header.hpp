// SPDX-License-Identifier: MIT
// from_header<"X-User-ID">: the user id is a request header's value.
#ifndef TOLLGATE_EXTRACTORS_FROM_HEADER_HPP
#define TOLLGATE_EXTRACTORS_FROM_HEADER_HPP

#include <optional>
#include <string>
#include <string_view>

#include <tollgate/detail/ascii.hpp>
#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// Reads the id from header `Name` (case-insensitive); surrounding spaces are trimmed and an empty
/// value counts as missing.
///
///     tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>> m{ledger, handler};
template <fixed_string Name>
struct from_header {
  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const { return detail::non_empty_trimmed(r.header(Name.view())); }
  [[nodiscard]] std::string source() const { return "the " + std::string(Name.view()) + " header"; }
};

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FROM_HEADER_HPP
