// SPDX-License-Identifier: MIT
// plan_limits: the limits in force for one tenant at run time (a plan's, possibly overridden).
#ifndef TOLLGATE_PLANS_PLAN_LIMITS_HPP
#define TOLLGATE_PLANS_PLAN_LIMITS_HPP

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/credits.hpp>
#include <tollgate/plans/limit.hpp>

namespace tollgate {

/// What a soft limit charges above its maximum: `price` per unit, and the `ceiling` no request passes.
struct overage_terms {
  credits price{};
  limit_value ceiling{unlimited};
  friend constexpr bool operator==(const overage_terms&, const overage_terms&) noexcept = default;
};

/// One limit at run time. `name` views storage owned by the plan table (static), never a request.
struct limit_entry {
  std::string_view name;
  limit_value value;
  /// Set for a soft limit: `value` is then the units included, `overage` what passing it costs.
  std::optional<overage_terms> overage{};
  friend bool operator==(const limit_entry&, const limit_entry&) = default;
};

/// A plan's name and its limits, in the table's declaration order (the order the endpoint writes).
class plan_limits {
 public:
  plan_limits(std::string_view plan, std::vector<limit_entry> entries) : plan_(plan), entries_(std::move(entries)) {}

  /// The plan's name, e.g. "free".
  [[nodiscard]] std::string_view plan() const noexcept { return plan_; }
  [[nodiscard]] const std::vector<limit_entry>& entries() const noexcept { return entries_; }

  /// The maximum of limit `name`, or std::nullopt when the table has no such limit.
  [[nodiscard]] std::optional<limit_value> find(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return e.value;
    return std::nullopt;
  }
  /// The whole entry of limit `name` (maximum and overage terms), or nullptr.
  [[nodiscard]] const limit_entry* entry(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  /// Replaces the maximum of limit `name`; false (and no change) when there is no such limit.
  bool set(std::string_view name, limit_value value) noexcept {
    for (auto& e : entries_)
      if (e.name == name) { e.value = value; return true; }
    return false;
  }

  friend bool operator==(const plan_limits&, const plan_limits&) = default;

 private:
  std::string_view plan_;
  std::vector<limit_entry> entries_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PLANS_PLAN_LIMITS_HPP
