// SPDX-License-Identifier: MIT
// Stripe's and Orb's subscription events read as plan changes (opt-in: includes nlohmann/json).
#ifndef TOLLGATE_BILLING_SUBSCRIPTION_EVENTS_HPP
#define TOLLGATE_BILLING_SUBSCRIPTION_EVENTS_HPP

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <tollgate/billing/plan_change_format.hpp>
#include <tollgate/detail/iso8601.hpp>
#include <tollgate/plans/limit.hpp>

namespace tollgate::billing {

namespace detail {
/// Ids, tenant ids and plan names longer than this are refused: they bound the replay memory.
inline constexpr std::size_t max_event_field_bytes = 256;
/// The metadata key prefix of a custom limit: `"limit.deployments": "8"` (or `"unlimited"`).
inline constexpr std::string_view limit_key_prefix = "limit.";

/// `root[k0][k1]…` when every step is an object member; nullptr otherwise.
template <std::size_t N>
[[nodiscard]] inline const nlohmann::json* member_at(const nlohmann::json& root, const std::array<std::string_view, N>& path) {
  const nlohmann::json* at = &root;
  for (auto key : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

/// A non-empty string of at most max_event_field_bytes at `path`.
template <std::size_t N>
[[nodiscard]] inline std::optional<std::string> string_at(const nlohmann::json& root, const std::array<std::string_view, N>& path) {
  const nlohmann::json* v = member_at(root, path);
  if (!v || !v->is_string()) return std::nullopt;
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_event_field_bytes) return std::nullopt;
  return s;
}

/// A custom limit's value: a non-negative integer (a JSON number or a decimal string, as metadata
/// values are strings at both providers) or `"unlimited"`.
[[nodiscard]] inline std::optional<limit_value> limit_value_of(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return limit_value(static_cast<std::int64_t>(n));
  }
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n < 0) return std::nullopt;
    return limit_value(n);
  }
  if (!v.is_string()) return std::nullopt;
  const auto& s = v.get_ref<const std::string&>();
  if (s == "unlimited") return limit_value(unlimited);
  if (s.empty() || s.size() > 18) return std::nullopt;  // 18 digits never overflow int64
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return limit_value(n);
}

/// Reads `limit.<name>` entries of a metadata object into `out`; the first bad entry's message, if any.
/// Names are checked against the plan table later, by plan_store.
[[nodiscard]] inline std::optional<std::string> read_limit_overrides(const nlohmann::json* metadata, plan_assignment& out) {
  if (!metadata || !metadata->is_object()) return std::nullopt;
  for (const auto& [key, value] : metadata->items()) {
    if (key.size() <= limit_key_prefix.size() || std::string_view(key).substr(0, limit_key_prefix.size()) != limit_key_prefix) continue;
    const auto max = limit_value_of(value);
    if (!max) return "metadata '" + key + "' must be a non-negative integer or \"unlimited\"";
    out.overrides.emplace_back(key.substr(limit_key_prefix.size()), *max);
  }
  return std::nullopt;
}

/// The event's `id` and `type`, or the malformed read that says which is missing.
struct event_head {
  std::string id;
  std::string type;
};
[[nodiscard]] inline std::optional<plan_change_read> read_head(const nlohmann::json& event, event_head& head) {
  using kind = plan_change_read::kind;
  if (!event.is_object()) return plan_change_read::refused(kind::malformed, {}, "Malformed event: the body must be a JSON object");
  auto id = string_at(event, std::array<std::string_view, 1>{"id"});
  if (!id) return plan_change_read::refused(kind::malformed, {}, "Malformed event: 'id' must be a non-empty string of at most 256 bytes");
  auto type = string_at(event, std::array<std::string_view, 1>{"type"});
  if (!type) return plan_change_read::refused(kind::malformed, *id, "Malformed event: 'type' must be a non-empty string");
  head = {std::move(*id), std::move(*type)};
  return std::nullopt;
}
}  // namespace detail

/// Stripe's subscription events. Reads, from `customer.subscription.created` and
/// `customer.subscription.updated` (every other type is ignored):
///   - `id`: the event id (replay protection);  `created`: unix seconds (ordering), optional;
///   - `data.object.metadata.tenant_id`: the tenant;  `data.object.metadata.plan`: the plan's name;
///   - `data.object.metadata["limit.<name>"]`: `"<count>"` or `"unlimited"`, the tenant's custom
///     limits (all of them: limits not listed go back to the plan's).
/// Set that metadata on the Subscription (Dashboard or API); Stripe sends metadata values as strings.
struct stripe_subscription_events {
  using plan_change_format_concept = plan_change_format_t;

  [[nodiscard]] plan_change_read read(const nlohmann::json& event) const {
    using kind = plan_change_read::kind;
    try {
      detail::event_head head;
      if (auto bad = detail::read_head(event, head)) return std::move(*bad);
      if (head.type != "customer.subscription.created" && head.type != "customer.subscription.updated")
        return plan_change_read::refused(kind::ignored, head.id, "Event type '" + head.type + "' changes no plan");
      plan_change change;
      change.event_id = head.id;
      auto tenant = detail::string_at(event, std::array<std::string_view, 4>{"data", "object", "metadata", "tenant_id"});
      if (!tenant) return plan_change_read::refused(kind::invalid, head.id, "Subscription event without data.object.metadata.tenant_id");
      auto plan = detail::string_at(event, std::array<std::string_view, 4>{"data", "object", "metadata", "plan"});
      if (!plan) return plan_change_read::refused(kind::invalid, head.id, "Subscription event without data.object.metadata.plan");
      change.tenant = std::move(*tenant);
      change.assignment.plan = std::move(*plan);
      if (auto bad = detail::read_limit_overrides(detail::member_at(event, std::array<std::string_view, 3>{"data", "object", "metadata"}), change.assignment))
        return plan_change_read::refused(kind::invalid, head.id, "Subscription event with a bad limit: " + *bad);
      if (const auto* created = detail::member_at(event, std::array<std::string_view, 1>{"created"}); created && created->is_number_integer())
        change.occurred_at = std::chrono::sys_time<std::chrono::microseconds>(std::chrono::seconds(created->get<std::int64_t>()));
      return plan_change_read::of(std::move(change));
    } catch (...) {  // bad_alloc: refuse rather than crash
      return plan_change_read::refused(kind::malformed, {}, "Malformed event");
    }
  }
};
static_assert(plan_change_format<stripe_subscription_events>);

/// Orb's subscription events. Reads, from `subscription.created`, `subscription.started` and
/// `subscription.plan_changed` (every other type is ignored):
///   - `id`: the event id (replay protection);  `created_at`: ISO 8601 (ordering), optional;
///   - `subscription.customer.external_customer_id`: the tenant (your id for the customer in Orb);
///   - `subscription.plan.external_plan_id`: the plan's name (give Orb plans tollgate's names as external ids);
///   - `subscription.metadata["limit.<name>"]`: `"<count>"` or `"unlimited"`, the tenant's custom
///     limits (all of them: limits not listed go back to the plan's).
struct orb_subscription_events {
  using plan_change_format_concept = plan_change_format_t;

  [[nodiscard]] plan_change_read read(const nlohmann::json& event) const {
    using kind = plan_change_read::kind;
    try {
      detail::event_head head;
      if (auto bad = detail::read_head(event, head)) return std::move(*bad);
      if (head.type != "subscription.created" && head.type != "subscription.started" && head.type != "subscription.plan_changed")
        return plan_change_read::refused(kind::ignored, head.id, "Event type '" + head.type + "' changes no plan");
      plan_change change;
      change.event_id = head.id;
      auto tenant = detail::string_at(event, std::array<std::string_view, 3>{"subscription", "customer", "external_customer_id"});
      if (!tenant) return plan_change_read::refused(kind::invalid, head.id, "Subscription event without subscription.customer.external_customer_id");
      auto plan = detail::string_at(event, std::array<std::string_view, 3>{"subscription", "plan", "external_plan_id"});
      if (!plan) return plan_change_read::refused(kind::invalid, head.id, "Subscription event without subscription.plan.external_plan_id");
      change.tenant = std::move(*tenant);
      change.assignment.plan = std::move(*plan);
      if (auto bad = detail::read_limit_overrides(detail::member_at(event, std::array<std::string_view, 2>{"subscription", "metadata"}), change.assignment))
        return plan_change_read::refused(kind::invalid, head.id, "Subscription event with a bad limit: " + *bad);
      if (auto created = detail::string_at(event, std::array<std::string_view, 1>{"created_at"}))
        change.occurred_at = ::tollgate::detail::parse_iso8601(*created);
      return plan_change_read::of(std::move(change));
    } catch (...) {  // bad_alloc: refuse rather than crash
      return plan_change_read::refused(kind::malformed, {}, "Malformed event");
    }
  }
};
static_assert(plan_change_format<orb_subscription_events>);

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_SUBSCRIPTION_EVENTS_HPP
