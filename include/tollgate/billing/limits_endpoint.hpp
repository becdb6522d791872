// SPDX-License-Identifier: MIT
// GET /billing/limits, framework-agnostic: a request in, the contract's status, headers and JSON out.
#ifndef TOLLGATE_BILLING_LIMITS_ENDPOINT_HPP
#define TOLLGATE_BILLING_LIMITS_ENDPOINT_HPP

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <tollgate/billing/reply.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/jwt/bearer.hpp>
#include <tollgate/jwt/verifier.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metrics/registry.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_from_header.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_resolver.hpp>
#include <tollgate/plans/tenant_overrides.hpp>

namespace tollgate::billing {

/// How the limits endpoint authenticates and logs.
struct endpoint_options {
  /// The HS256 secret shared with callers. Empty: authenticated requests get the contract's 500
  /// ("no secret configured"); an empty secret never turns authentication off.
  redacted secret{};
  /// Turns authentication off (any Authorization header is then ignored). Only this flag does.
  bool disable_auth = false;
  /// Token rules: audience "worker", ver "1", leeway 0 s by default (the contract's); the clock.
  jwt::verify_options jwt{};
  /// Where warnings go. Tokens and the secret never do.
  logger log{log_level::info};
  /// Where the endpoint's metrics go (README "Metrics"): answers by status, plan lookups by
  /// outcome, JWT refusals by reason. Null: none. Must outlive the endpoint.
  metrics::registry* metrics = nullptr;

  /// Authentication on, with this HS256 secret (an empty one answers 500, see `secret`).
  [[nodiscard]] static endpoint_options with_secret(redacted secret) {
    endpoint_options o;
    o.secret = std::move(secret);
    return o;
  }
  /// Authentication off: for tests and for deployments behind an authenticating gateway.
  [[nodiscard]] static endpoint_options auth_disabled() {
    endpoint_options o;
    o.disable_auth = true;
    return o;
  }
  /// Replaces the logger.
  [[nodiscard]] endpoint_options with_logger(logger l) && {
    log = std::move(l);
    return std::move(*this);
  }
  /// Exports the endpoint's metrics to `r`.
  [[nodiscard]] endpoint_options with_metrics(metrics::registry& r) && {
    metrics = &r;
    return std::move(*this);
  }
  /// Replaces the token rules (audience, version, leeway, clock).
  [[nodiscard]] endpoint_options with_jwt(jwt::verify_options o) && {
    jwt = std::move(o);
    return std::move(*this);
  }
};

namespace detail {
/// Header bytes as the original's server saw them (Latin-1), re-encoded as UTF-8 so the JSON is valid.
[[nodiscard]] inline std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xC0 | (u >> 6));
      out += static_cast<char>(0x80 | (u & 0x3F));
    }
  }
  return out;
}

[[nodiscard]] inline reply detail_reply(int status, std::string_view message) {
  return reply{status, {}, nlohmann::ordered_json{{"detail", message}}.dump()};
}
}  // namespace detail

/// The billing-limits endpoint of the contract (docs/billing-limits.md): `GET` → 200
/// `{"tenant_id":…,"limits":{<limits in table order>…,"plan_type":…}}`, `null` meaning unlimited;
/// 401/500 from authentication first, then 422 for header errors; 405 for other methods.
/// `Table` lists the plans; `Resolver` finds a tenant's plan (by default the `x-plan-type` header).
///
///     tollgate::billing::limits_endpoint<> endpoint{
///         tollgate::billing::endpoint_options::with_secret(tollgate::redacted{secret})};
///     tollgate::billing::reply r = endpoint.handle(request);   // any tollgate::request
template <class Table = default_plans, plan_resolver Resolver = plan_from_header<"x-plan-type">>
class limits_endpoint {
 public:
  explicit limits_endpoint(endpoint_options options, Resolver resolver = Resolver{},
                           std::shared_ptr<const tenant_overrides<Table>> overrides = nullptr)
      : verifier_(options.secret, with_metrics(options.jwt, options.metrics)),
        disable_auth_(options.disable_auth),
        log_(std::move(options.log)),
        resolver_(std::move(resolver)),
        overrides_(std::move(overrides)) {
    if (options.metrics) register_metrics(*options.metrics);
    if (disable_auth_)
      log_.warn("billing limits: authentication is disabled; anyone can read plan limits");
    else if (!verifier_.has_secret())
      log_.warn("billing limits: no JWT secret configured; the endpoint answers 500 until one is");
  }

  /// Answers one request. Safe to call from several threads at once.
  [[nodiscard]] reply handle(const request_ref& request) const {
    reply r = respond(request, [](std::string_view tenant, const plan_limits& limits) { return render_limits(tenant, limits); });
    if (answers_[0] != nullptr) answers_[status_index(r.status)]->inc();
    return r;
  }

  /// Authenticates the request and resolves its tenant's limits exactly as `handle` does (the same
  /// 401/405/422/500 answers), then lets `render(tenant, limits)` → `reply` write the answer: for
  /// endpoints that say more about the same tenant (GET /billing/usage).
  template <class Render>
  [[nodiscard]] reply respond(const request_ref& request, Render&& render) const {
    const std::string_view method = request.method();
    if (method != "GET" && method != "HEAD") {
      auto r = detail::detail_reply(405, "Method Not Allowed");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    if (!disable_auth_) {
      if (auto refused = authenticate(request)) return std::move(*refused);
    }

    nlohmann::ordered_json errors = nlohmann::ordered_json::array();
    std::optional<std::string_view> tenant;
    if (auto value = request.header("tenant-id")) tenant = tollgate::detail::strip_http_ows(*value);
    if (!tenant)
      errors.push_back({{"type", "missing"}, {"loc", {"header", "tenant-id"}}, {"msg", "Field required"}, {"input", nullptr}});

    const plan_resolution resolution = resolver_.resolve(request, tenant);
    if (lookups_[0] != nullptr) lookups_[static_cast<std::size_t>(resolution.outcome)]->inc();
    std::optional<plan_limits> limits;
    std::optional<reply> server_side;  // an answer that is not the caller's fault, sent only without 422s
    switch (resolution.outcome) {
      case plan_resolution::kind::plan:
        limits = Table::find(resolution.plan);
        if (!limits && !resolution.header.empty()) {
          const std::string expected = Table::expected_names();
          errors.push_back({{"type", "enum"},
                            {"loc", {"header", resolution.header}},
                            {"msg", "Input should be " + expected},
                            {"input", detail::latin1_to_utf8(resolution.plan)},
                            {"ctx", {{"expected", expected}}}});
        } else if (!limits) {
          log_.error("billing limits: the plan resolver named plan '{}', which the plan table does not declare",
                     detail::latin1_to_utf8(resolution.plan));
          server_side = detail::detail_reply(500, "Server configuration error: unknown plan");
        }
        break;
      case plan_resolution::kind::default_plan: limits = Table::default_limits(); break;
      case plan_resolution::kind::not_applicable: break;
      case plan_resolution::kind::unknown_tenant: server_side = detail::detail_reply(404, "Tenant not found"); break;
      case plan_resolution::kind::failed:
        log_.warn("billing limits: plan lookup failed: {}", resolution.message);
        server_side = detail::detail_reply(503, "Plan lookup failed");
        break;
    }
    if (!errors.empty()) return reply{422, {}, nlohmann::ordered_json{{"detail", std::move(errors)}}.dump()};
    if (server_side) return std::move(*server_side);
    if (!limits) return detail::detail_reply(500, "Server configuration error: no plan resolved");

    if (overrides_) limits = overrides_->apply(*tenant, std::move(*limits));
    return render(*tenant, *limits);
  }

  /// The contract's 200 body: `{"tenant_id":…,"limits":{<limits in table order>…,"plan_type":…}}`.
  [[nodiscard]] static reply render_limits(std::string_view tenant, const plan_limits& limits) {
    nlohmann::ordered_json body_limits = nlohmann::ordered_json::object();
    for (const auto& entry : limits.entries()) {
      if (entry.value.is_unlimited()) body_limits[std::string(entry.name)] = nullptr;
      else body_limits[std::string(entry.name)] = entry.value.max();
    }
    body_limits["plan_type"] = std::string(limits.plan());
    nlohmann::ordered_json body;
    body["tenant_id"] = detail::latin1_to_utf8(tenant);
    body["limits"] = std::move(body_limits);
    return reply{200, {}, body.dump()};
  }

  [[nodiscard]] bool auth_enabled() const noexcept { return !disable_auth_; }

 private:
  static constexpr std::string_view statuses[] = {"200", "401", "404", "405", "422", "500", "503", "other"};
  static constexpr std::string_view lookup_outcomes[] = {"plan", "default_plan", "not_applicable", "unknown_tenant", "failed"};

  static std::size_t status_index(int status) noexcept {
    constexpr int codes[] = {200, 401, 404, 405, 422, 500, 503};
    for (std::size_t i = 0; i < std::size(codes); ++i)
      if (codes[i] == status) return i;
    return std::size(statuses) - 1;
  }
  static jwt::verify_options with_metrics(jwt::verify_options o, metrics::registry* r) {
    if (r != nullptr && o.metrics == nullptr) o.metrics = r;
    return o;
  }
  void register_metrics(metrics::registry& r) {
    auto& answers = r.counter("tollgate_billing_limits_requests_total", "Answers of GET /billing/limits by status.", {"status"});
    for (std::size_t i = 0; i < std::size(statuses); ++i) answers_[i] = &answers.with({statuses[i]});
    auto& lookups = r.counter("tollgate_plan_lookups_total",
                              "Plan resolutions of the billing endpoints by outcome (failed: the plan resolver errored or timed out).",
                              {"outcome"});
    for (std::size_t i = 0; i < std::size(lookup_outcomes); ++i) lookups_[i] = &lookups.with({lookup_outcomes[i]});
  }

  // The contract's authentication steps, in its order; std::nullopt when the request may proceed.
  [[nodiscard]] std::optional<reply> authenticate(const request_ref& request) const {
    auto unauthorized = [](std::string_view message) {
      auto r = detail::detail_reply(401, message);
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    };
    const auto header = request.header("Authorization");
    if (!header || tollgate::detail::strip_http_ows(*header).empty()) return unauthorized("Missing authorization header");
    const auto token = jwt::bearer_token(*header);
    if (!token) return unauthorized("Invalid authorization header format. Expected 'Bearer <token>'");
    if (!verifier_.has_secret()) return detail::detail_reply(500, "Server configuration error: no secret configured");
    const auto verified = verifier_.verify(*token);
    if (!verified) {
      log_.debug("billing limits: token refused: {}", verified.error);  // the reason only, never the token
      return unauthorized("Invalid token. Error: " + verified.error);
    }
    return std::nullopt;
  }

  jwt::verifier verifier_;
  bool disable_auth_;
  logger log_;
  Resolver resolver_;
  std::shared_ptr<const tenant_overrides<Table>> overrides_;
  metrics::counter* answers_[std::size(statuses)]{};  // null unless options.metrics was set
  metrics::counter* lookups_[std::size(lookup_outcomes)]{};
};

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_LIMITS_ENDPOINT_HPP
