// SPDX-License-Identifier: MIT
// The plan_change_format concept: how a provider's webhook event names a tenant's new plan (opt-in: includes nlohmann/json).
#ifndef TOLLGATE_BILLING_PLAN_CHANGE_FORMAT_HPP
#define TOLLGATE_BILLING_PLAN_CHANGE_FORMAT_HPP

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <tollgate/plans/plan_store.hpp>

namespace tollgate::billing {

/// The tag a format opts in with: `using plan_change_format_concept = tollgate::billing::plan_change_format_t;`.
struct plan_change_format_t {};

/// A plan change read from one event: who, what, and the event's identity and time.
struct plan_change {
  std::string event_id{};
  std::string tenant{};
  plan_assignment assignment{};
  /// When the provider created the event (orders changes that arrive out of order); unknown if unset.
  std::optional<std::chrono::sys_time<std::chrono::microseconds>> occurred_at{};
};

/// What a format found in an event. `message` goes into the reply's `detail`.
struct plan_change_read {
  enum class kind {
    change,     ///< `change` holds a plan change to apply
    ignored,    ///< a well-formed event of a type that changes no plan (answered 200: not retried)
    malformed,  ///< not an event at all (no string `id`, no string `type`): 400
    invalid,    ///< a plan-changing event missing what tollgate needs, or with a bad value: 422
  };
  kind outcome = kind::malformed;
  plan_change change{};
  std::string event_id{};  ///< the event's id when one was read, for the log
  std::string message{};

  [[nodiscard]] static plan_change_read of(plan_change c) {
    std::string id = c.event_id;
    return {kind::change, std::move(c), std::move(id), {}};
  }
  [[nodiscard]] static plan_change_read refused(kind k, std::string event_id, std::string message) {
    return {k, {}, std::move(event_id), std::move(message)};
  }
};

/// A provider's event format. Requirements, for `const F& f` and `const nlohmann::json& event`
/// (the parsed body; any JSON value):
///   1. `typename F::plan_change_format_concept` is `tollgate::billing::plan_change_format_t` (explicit opt-in);
///   2. `f.read(event)` → `plan_change_read`, never throwing on any JSON value;
///   3. `read` is safe to call from several threads at once, and `F` is default-constructible.
/// Provided: `stripe_subscription_events` and `orb_subscription_events` (billing/subscription_events.hpp).
template <class F>
concept plan_change_format = requires { typename F::plan_change_format_concept; } &&
                             std::same_as<typename F::plan_change_format_concept, plan_change_format_t> &&
                             std::default_initializable<F> &&
                             requires(const F& f, const nlohmann::json& event) {
                               { f.read(event) } -> std::same_as<plan_change_read>;
                             };

namespace detail {
/// Each requirement of `plan_change_format` on its own, so a failure names the missing piece (one message).
template <class F>
constexpr bool check_plan_change_format() {
  constexpr bool opts_in = requires { requires std::same_as<typename F::plan_change_format_concept, plan_change_format_t>; };
  constexpr bool has_read = requires(const F& f, const nlohmann::json& event) { f.read(event); };
  constexpr bool read_returns = requires(const F& f, const nlohmann::json& event) { { f.read(event) } -> std::same_as<plan_change_read>; };
  if constexpr (!opts_in) {
    static_assert(opts_in, "tollgate: this event format does not opt in: add `using plan_change_format_concept = tollgate::billing::plan_change_format_t;`");
    return false;
  } else if constexpr (!has_read) {
    static_assert(has_read, "tollgate: this event format is missing `read(const nlohmann::json&) const`");
    return false;
  } else if constexpr (!read_returns) {
    static_assert(read_returns, "tollgate: an event format's `read(...)` must return tollgate::billing::plan_change_read");
    return false;
  } else if constexpr (!std::default_initializable<F>) {
    static_assert(std::default_initializable<F>, "tollgate: an event format must be default-constructible");
    return false;
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_PLAN_CHANGE_FORMAT_HPP
