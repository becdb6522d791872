// SPDX-License-Identifier: MIT
// POST /billing/webhooks/<provider>, framework-agnostic: a signed subscription event in, a tenant's new plan stored.
#ifndef TOLLGATE_BILLING_PLAN_WEBHOOK_HPP
#define TOLLGATE_BILLING_PLAN_WEBHOOK_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/plan_change_format.hpp>
#include <tollgate/billing/reply.hpp>
#include <tollgate/billing/subscription_events.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/plans/cached_plan_lookup.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_store.hpp>
#include <tollgate/webhooks/orb_signature.hpp>
#include <tollgate/webhooks/seen_event_ids.hpp>
#include <tollgate/webhooks/signature_scheme.hpp>
#include <tollgate/webhooks/stripe_signature.hpp>

namespace tollgate::billing {

/// How a plan webhook verifies deliveries and remembers them.
struct webhook_options {
  /// The endpoint's signing secret from the provider. Empty: every delivery gets 500 ("no webhook
  /// secret configured"); an empty secret never turns verification off. Never logged nor echoed.
  redacted secret{};
  /// The accepted difference between the signed timestamp and `now`, either way (5 minutes, as
  /// Stripe and Orb recommend). Event ids are remembered for twice this (see seen_event_ids).
  std::chrono::seconds tolerance{std::chrono::minutes(5)};
  /// Larger bodies get 413 before any HMAC is computed. Subscription events are a few KiB.
  std::size_t max_body_bytes = 256 * 1024;
  /// How many event ids are remembered at once; past it, new events get 503 until some expire.
  std::size_t max_remembered_events = 100'000;
  /// The clock, injectable for tests; empty: std::chrono::system_clock::now.
  std::function<std::chrono::system_clock::time_point()> now{};
  /// Where refusals and changes go. The secret and signatures never do.
  logger log{log_level::info};

  /// Verification with this secret (an empty one answers 500, see `secret`).
  [[nodiscard]] static webhook_options with_secret(redacted secret) {
    webhook_options o;
    o.secret = std::move(secret);
    return o;
  }
  [[nodiscard]] webhook_options with_logger(logger l) && {
    log = std::move(l);
    return std::move(*this);
  }
  [[nodiscard]] webhook_options with_clock(std::function<std::chrono::system_clock::time_point()> clock) && {
    now = std::move(clock);
    return std::move(*this);
  }
  [[nodiscard]] webhook_options with_tolerance(std::chrono::seconds t) && {
    tolerance = t;
    return std::move(*this);
  }
};

/// A billing provider's webhook that changes tenants' plans. `POST` only (405 otherwise). In order:
/// 413 for a body over `max_body_bytes`; 500 without a secret; 400 when the signature is missing,
/// unreadable, wrong or its timestamp is outside the tolerance (Stripe's own examples answer 400;
/// 401 would need a WWW-Authenticate scheme that does not exist for HMAC signatures); 400 for a
/// body that is not an event; 200 `{"status":"ignored"}` for event types that change no plan;
/// 422 for a plan-changing event that lacks the tenant or plan, or names an unknown plan or limit;
/// 200 `{"status":"duplicate"}` for an event id already applied within 2 × tolerance (providers
/// retry every non-2xx for days, so a redelivery must be acknowledged, not refused); 503 when the
/// replay memory is full; else the store is updated, each cache invalidated for that tenant at once,
/// and 200 `{"status":"applied"|"outdated",…}` ("outdated": a later change is already applied).
/// Every refusal changes nothing and carries a JSON `detail`.
///
///     auto store = std::make_shared<tollgate::plan_store<tollgate::default_plans>>();
///     tollgate::billing::stripe_plan_webhook<> webhook{
///         tollgate::billing::webhook_options::with_secret(tollgate::redacted{secret}), store, cache};
///     tollgate::billing::reply r = webhook.handle(request);   // any tollgate::request
template <class Table, class Scheme, class Format>
class plan_webhook {
  // Types, so the checks run as soon as the class is named; each failure is then the only error.
  using scheme_ok = std::bool_constant<webhooks::detail::check_signature_scheme<Scheme>()>;
  using format_ok = std::bool_constant<scheme_ok::value && detail::check_plan_change_format<Format>()>;
  // The scheme's name for the log, read only once the scheme passed its check (no second error).
  static constexpr std::string_view scheme_name() {
    if constexpr (scheme_ok::value) return Scheme::name;
    else return "?";
  }

 public:
  plan_webhook(webhook_options options, std::shared_ptr<plan_store<Table>> store)
      : secret_(std::move(options.secret)),
        tolerance_(std::max(options.tolerance, std::chrono::seconds(0))),
        max_body_bytes_(options.max_body_bytes),
        now_(options.now ? std::move(options.now) : std::function<std::chrono::system_clock::time_point()>(&std::chrono::system_clock::now)),
        log_(std::move(options.log)),
        store_(std::move(store)),
        seen_(std::make_shared<webhooks::seen_event_ids>(std::max<std::size_t>(options.max_remembered_events, 1),
                                                         std::max<std::chrono::system_clock::duration>(2 * tolerance_, std::chrono::seconds(1)))) {
    if (!store_) throw std::invalid_argument("tollgate::billing::plan_webhook: the plan store is null");
    if (secret_.empty()) log_.warn("plan webhook ({}): no signing secret configured; every delivery gets 500 until one is", scheme_name());
  }
  /// The same, invalidating `cache` (copies share the cache) for each changed tenant.
  plan_webhook(webhook_options options, std::shared_ptr<plan_store<Table>> store, cached_plan_lookup cache)
      : plan_webhook(std::move(options), std::move(store)) {
    caches_.push_back(std::move(cache));
  }

  /// Answers one delivery. Safe to call from several threads at once.
  [[nodiscard]] reply handle(const request_ref& request) const {
    if constexpr (!format_ok::value) {
      return detail::detail_reply(500, "Server configuration error");  // unreachable: the type check said why
    } else {
      try {
        return handle_checked(request);
      } catch (const std::exception& e) {  // bad_alloc and the like: nothing was changed before they can happen
        log_.error("plan webhook ({}): internal error: {}", scheme_name(), e.what());
        return detail::detail_reply(500, "Internal error");
      }
    }
  }

  /// The replay memory (for tests and metrics).
  [[nodiscard]] const webhooks::seen_event_ids& seen_events() const noexcept { return *seen_; }

 private:
  reply handle_checked(const request_ref& request) const {
    if (request.method() != "POST") {
      auto r = detail::detail_reply(405, "Method Not Allowed");
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    const std::string_view body = request.body();
    if (body.size() > max_body_bytes_) return detail::detail_reply(413, "Request body too large");
    if (secret_.empty()) return detail::detail_reply(500, "Server configuration error: no webhook secret configured");

    const auto now = now_();
    const Scheme scheme{};
    const auto checked = scheme.verify(webhooks::signed_delivery{request, body, secret_, now, tolerance_});
    if (!checked.ok()) {
      // debug, as the limits endpoint logs refused tokens: anyone can send unsigned requests, and many.
      log_.debug("plan webhook ({}): delivery refused: {}", scheme_name(), checked.message);
      return detail::detail_reply(400, checked.message);
    }

    const auto event = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded()) return detail::detail_reply(400, "Malformed body: not JSON");
    const Format format{};
    auto read = format.read(event);
    using kind = plan_change_read::kind;
    switch (read.outcome) {
      case kind::malformed: return detail::detail_reply(400, read.message);
      case kind::invalid:
        log_.warn("plan webhook ({}): event {} refused: {}", scheme_name(), read.event_id, read.message);
        return detail::detail_reply(422, read.message);
      case kind::ignored: return status_reply("ignored", read.event_id, read.message);
      case kind::change: break;
    }
    plan_change& change = read.change;
    if (auto why = plan_store<Table>::refusal(change.assignment)) {
      log_.warn("plan webhook ({}): event {} refused: {}", scheme_name(), change.event_id, *why);
      return detail::detail_reply(422, *why);
    }

    switch (seen_->try_claim(change.event_id, now)) {
      case webhooks::seen_event_ids::claim::duplicate:
        return status_reply("duplicate", change.event_id, "Event already processed");
      case webhooks::seen_event_ids::claim::full: {
        log_.error("plan webhook ({}): replay memory full ({} events); refusing until some expire", scheme_name(), seen_->capacity());
        auto r = detail::detail_reply(503, "Too many recent events; retry later");
        r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(tolerance_.count(), 1)));
        return r;
      }
      case webhooks::seen_event_ids::claim::first: break;
    }

    std::optional<std::int64_t> as_of;
    if (change.occurred_at) as_of = change.occurred_at->time_since_epoch().count();
    lookup_result<typename plan_store<Table>::outcome> stored = lookup_result<typename plan_store<Table>::outcome>::failure("not applied");
    try {
      stored = store_->assign(change.tenant, change.assignment, as_of);
    } catch (...) {
      seen_->forget(change.event_id);  // not applied: its retry must not count as a duplicate
      throw;
    }
    if (!stored) {  // unreachable: checked by refusal() above
      seen_->forget(change.event_id);
      return detail::detail_reply(422, stored.error());
    }
    if (*stored == plan_store<Table>::outcome::outdated) {
      log_.info("plan webhook ({}): event {} is older than the tenant's last change; ignored", scheme_name(), change.event_id);
      return status_reply("outdated", change.event_id, "A later plan change is already applied");
    }
    for (const auto& cache : caches_) cache.invalidate(change.tenant);
    log_.info("plan webhook ({}): event {}: tenant '{}' now on plan '{}' ({} custom limits)", scheme_name(), change.event_id, change.tenant,
              change.assignment.plan, change.assignment.overrides.size());
    nlohmann::ordered_json out;
    out["status"] = "applied";
    out["event_id"] = change.event_id;
    out["tenant_id"] = change.tenant;
    out["plan_type"] = change.assignment.plan;
    return reply{200, {}, out.dump()};
  }

  static reply status_reply(std::string_view status, const std::string& event_id, std::string_view message) {
    nlohmann::ordered_json out;
    out["status"] = status;
    if (!event_id.empty()) out["event_id"] = event_id;
    out["detail"] = message;
    return reply{200, {}, out.dump()};
  }

  redacted secret_;
  std::chrono::seconds tolerance_;
  std::size_t max_body_bytes_;
  std::function<std::chrono::system_clock::time_point()> now_;
  logger log_;
  std::shared_ptr<plan_store<Table>> store_;
  std::vector<cached_plan_lookup> caches_;
  std::shared_ptr<webhooks::seen_event_ids> seen_;
};

/// Stripe's `customer.subscription.*` events, signed with `Stripe-Signature`.
template <class Table = default_plans>
using stripe_plan_webhook = plan_webhook<Table, webhooks::stripe_signature, stripe_subscription_events>;
/// Orb's `subscription.*` events, signed with `X-Orb-Signature`.
template <class Table = default_plans>
using orb_plan_webhook = plan_webhook<Table, webhooks::orb_signature, orb_subscription_events>;

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_PLAN_WEBHOOK_HPP
