// SPDX-License-Identifier: MIT
// GET /billing/usage, framework-agnostic: a tenant's usage, limits and what remains, behind /billing/limits's auth.
#ifndef TOLLGATE_BILLING_USAGE_ENDPOINT_HPP
#define TOLLGATE_BILLING_USAGE_ENDPOINT_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/reply.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_from_header.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/plan_resolver.hpp>
#include <tollgate/plans/tenant_overrides.hpp>
#include <tollgate/usage/usage_store.hpp>

namespace tollgate::billing {

/// `GET /billing/usage`: the same authentication, headers and error answers as `/billing/limits`
/// (it is that endpoint's `respond`), and a 200 body with each limit's usage in table order:
///
///     {"tenant_id":"org-1","usage":{"deployments":{"used":1,"limit":1,"remaining":0},
///      "self_hosted_workers":{"used":0,"limit":null,"remaining":null}},"plan_type":"free"}
///
/// `limit` and `remaining` are `null` when unlimited, as /billing/limits writes unlimited. A soft
/// limit adds `"hard_limit"` (`null`: no ceiling), `"overage_price"` and `"overage"` (units above
/// `limit`, charged). The usage store failing answers 503.
template <class Table = default_plans, plan_resolver Resolver = plan_from_header<"x-plan-type">>
class usage_endpoint {
 public:
  /// Reads usage from `store`, which must outlive the endpoint.
  template <class Store>
  usage_endpoint(Store& store, endpoint_options options, Resolver resolver = Resolver{},
                 std::shared_ptr<const tenant_overrides<Table>> overrides = nullptr)
      : store_(store), log_(options.log), limits_(std::move(options), std::move(resolver), std::move(overrides)) {}

  /// Answers one request. Safe to call from several threads at once.
  [[nodiscard]] reply handle(const request_ref& request) const {
    return limits_.respond(request, [this](std::string_view tenant, const plan_limits& limits) { return render(tenant, limits); });
  }

  [[nodiscard]] bool auth_enabled() const noexcept { return limits_.auth_enabled(); }

 private:
  [[nodiscard]] reply render(std::string_view tenant, const plan_limits& limits) const {
    auto or_null = [](const limit_value& v) -> nlohmann::ordered_json {
      if (v.is_unlimited()) return nullptr;
      return v.max();
    };
    nlohmann::ordered_json usage = nlohmann::ordered_json::object();
    for (const auto& entry : limits.entries()) {
      auto used = store_.usage(tenant, entry.name);
      if (!used) {
        log_.warn("billing usage: the usage store failed: {}: {}", to_string(used.error().code), used.error().message);
        auto r = detail::detail_reply(503, "Usage store unavailable");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
      nlohmann::ordered_json item;
      item["used"] = *used;
      item["limit"] = or_null(entry.value);
      if (entry.value.is_unlimited()) item["remaining"] = nullptr;
      else item["remaining"] = *used >= entry.value.max() ? std::int64_t{0} : entry.value.max() - *used;
      if (entry.overage) {
        item["hard_limit"] = or_null(entry.overage->ceiling);
        // Through nlohmann::json's credits serializer: exact, whole prices as integers.
        item["overage_price"] = nlohmann::ordered_json::parse(nlohmann::json(entry.overage->price).dump());
        item["overage"] = !entry.value.is_unlimited() && *used > entry.value.max() ? *used - entry.value.max() : std::int64_t{0};
      }
      usage[std::string(entry.name)] = std::move(item);
    }
    nlohmann::ordered_json body;
    body["tenant_id"] = detail::latin1_to_utf8(tenant);
    body["usage"] = std::move(usage);
    body["plan_type"] = std::string(limits.plan());
    return reply{200, {}, body.dump()};
  }

  usage_store_ref store_;
  logger log_;
  limits_endpoint<Table, Resolver> limits_;
};

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_USAGE_ENDPOINT_HPP
