// SPDX-License-Identifier: MIT
// The user-ID extractor concept: how tollgate learns who pays for a request.
#ifndef TOLLGATE_EXTRACTORS_EXTRACTOR_HPP
#define TOLLGATE_EXTRACTORS_EXTRACTOR_HPP

#include <concepts>
#include <optional>
#include <string>
#include <string_view>

#include <tollgate/http/request.hpp>

namespace tollgate {

/// A user-ID extractor. Requirements, for `const E& e` and `const request_ref& r`:
///   1. `E` is default-constructible or passed to `metered` as an instance;
///   2. `e.extract(r)` → `std::optional<std::string>`: the id the ledger charges (a user id, an API
///      key or another credential), or `std::nullopt` when the request does not carry one;
///   3. `e.source()` → convertible to `std::string_view`: where the id is looked for, in words
///      ("the X-User-ID header"), used in the 401 detail. It must never contain the id itself.
template <class E>
concept extractor = requires(const E& e, const request_ref& r) {
  { e.extract(r) } -> std::same_as<std::optional<std::string>>;
  { e.source() } -> std::convertible_to<std::string_view>;
};

namespace detail {
/// Requirements 2 and 3 of `extractor` on their own, so a failure names the missing piece. Stops
/// at the first broken one and returns false: its message is then the only error, as long as the
/// caller branches on the result instead of using the extractor anyway.
template <class E>
constexpr bool check_extractor() {
  constexpr bool has_extract = requires(const E& e, const request_ref& r) { e.extract(r); };
  constexpr bool extract_returns_optional_string = requires(const E& e, const request_ref& r) {
    { e.extract(r) } -> std::same_as<std::optional<std::string>>;
  };
  constexpr bool has_source = requires(const E& e) { { e.source() } -> std::convertible_to<std::string_view>; };
  if constexpr (!has_extract) {
    static_assert(has_extract, "tollgate: this extractor has no `extract(const tollgate::request_ref&) const` member");
    return false;
  } else if constexpr (!extract_returns_optional_string) {
    static_assert(extract_returns_optional_string, "tollgate: an extractor's `extract(request)` must return std::optional<std::string>");
    return false;
  } else if constexpr (!has_source) {
    static_assert(has_source, "tollgate: this extractor has no `source()` member saying where the id is looked for");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_EXTRACTOR_HPP
