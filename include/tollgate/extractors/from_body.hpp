// SPDX-License-Identifier: MIT
// from_body<"user_id">: the user id is a top-level field of a JSON request body (opt-in; needs nlohmann/json).
#ifndef TOLLGATE_EXTRACTORS_FROM_BODY_HPP
#define TOLLGATE_EXTRACTORS_FROM_BODY_HPP

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/http/request.hpp>

namespace tollgate {

/// Reads a top-level string (or integer) field of the JSON body. A body that is not JSON, not an
/// object, or lacks the field counts as missing; an empty string too.
template <fixed_string Field>
struct from_body {
  [[nodiscard]] std::optional<std::string> extract(const request_ref& r) const {
    const auto parsed = nlohmann::json::parse(r.body(), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return std::nullopt;
    auto it = parsed.find(std::string(Field.view()));
    if (it == parsed.end()) return std::nullopt;
    if (it->is_string()) {
      auto value = it->get<std::string>();
      if (value.empty()) return std::nullopt;
      return value;
    }
    if (it->is_number_integer()) return it->dump();
    return std::nullopt;
  }
  [[nodiscard]] std::string source() const { return "a '" + std::string(Field.view()) + "' field in the JSON body"; }
};

}  // namespace tollgate

#endif  // TOLLGATE_EXTRACTORS_FROM_BODY_HPP
