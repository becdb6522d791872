// SPDX-License-Identifier: MIT
// limited<"deployments", TenantExtractor, Options...>: wraps a create (or delete) handler in acquire → run → keep or undo.
#ifndef TOLLGATE_USAGE_LIMITED_HPP
#define TOLLGATE_USAGE_LIMITED_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tollgate/credits.hpp>
#include <tollgate/detail/callable_traits.hpp>
#include <tollgate/detail/fixed_string.hpp>
#include <tollgate/detail/json_text.hpp>
#include <tollgate/detail/random_id.hpp>
#include <tollgate/extractors/extractor.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metering/bad_request.hpp>
#include <tollgate/metering/settlement_guard.hpp>
#include <tollgate/metrics/limit_checks.hpp>
#include <tollgate/metrics/metering_metrics.hpp>
#include <tollgate/metrics/registry.hpp>
#include <tollgate/plans/limit.hpp>
#include <tollgate/plans/plan_limits.hpp>
#include <tollgate/plans/tenant_limits.hpp>
#include <tollgate/usage/usage_store.hpp>

namespace tollgate {

/// The tag of limited's options: `using limited_option = tollgate::usage_action_tag;` (or units/key tags).
struct usage_action_tag {};
struct usage_units_tag {};
struct usage_key_tag {};

/// limited's default action: the handler creates `units` of the limit. Acquired before it runs (refused:
/// 403 and the handler never runs); undone if it throws or answers outside 2xx.
struct acquires {
  using limited_option = usage_action_tag;
  static constexpr bool acquiring = true;
};
/// The handler deletes `units` of the limit: released after it answers 2xx (a 404 releases nothing,
/// so answer 404 when nothing was deleted).
struct releases {
  using limited_option = usage_action_tag;
  static constexpr bool acquiring = false;
};
/// How many units one request acquires or releases (1 by default).
template <std::int64_t N>
struct units {
  using limited_option = usage_units_tag;
  static constexpr std::int64_t value = N;
};
/// The request header whose value is the idempotency key (`Idempotency-Key` by default): a retry
/// sending the same key counts (or releases) once. Without it, each request gets a fresh key.
template <fixed_string Name>
struct idempotency_header {
  using limited_option = usage_key_tag;
  static constexpr std::string_view name = Name.view();
};

/// Run-time settings of a limited handler.
struct limited_config {
  logger log{};
  /// Longest idempotency key accepted (a longer one is a 400).
  std::size_t max_key_length = 255;
  /// Where each create's limit check is counted (`tollgate_plan_limit_checks_total{plan, limit,
  /// outcome}`, labels from the plan table only); null: `metrics::global_registry()` if set, else none.
  metrics::registry* metrics = nullptr;
};

namespace detail {
template <class Option>
constexpr bool is_limited_option = requires {
  requires std::same_as<typename Option::limited_option, usage_action_tag> || std::same_as<typename Option::limited_option, usage_units_tag> ||
               std::same_as<typename Option::limited_option, usage_key_tag>;
};
template <class Tag, class Default, class... Options>
struct find_limited_option {
  using type = Default;
};
template <class Tag, class Default, class First, class... Rest>
struct find_limited_option<Tag, Default, First, Rest...>
    : std::conditional_t<std::same_as<typename First::limited_option, Tag>, std::type_identity<First>,
                         find_limited_option<Tag, Default, Rest...>> {};

/// The option tagged `Tag`, or `Default`. A refused limited takes the defaults without looking: its
/// options may have no tag to look up, and that would be a second error.
template <bool WellFormed, class Tag, class Default, class... Options>
struct chosen_limited_option {
  using type = Default;
};
template <class Tag, class Default, class... Options>
struct chosen_limited_option<true, Tag, Default, Options...> : find_limited_option<Tag, Default, Options...> {};

/// limited's type arguments: the limit's name, the tenant extractor, then the options. Stops at the
/// first mistake and returns false, so its message is the only error.
template <fixed_string Limit, class TenantExtractor, class... Options>
constexpr bool check_limited() {
  if constexpr (!(Limit.size() > 0)) {
    static_assert(Limit.size() > 0, "tollgate: limited<Limit, ...> needs a limit name");
    return false;
  } else if constexpr (!check_extractor<TenantExtractor>()) {
    return false;  // the extractor said why
  } else if constexpr (!(is_limited_option<Options> && ...)) {
    static_assert((is_limited_option<Options> && ...),
                  "tollgate: an option given to limited<...> is not one of tollgate::acquires, tollgate::releases, "
                  "tollgate::units<N> or tollgate::idempotency_header<\"Name\">");
    return false;
  } else if constexpr (constexpr bool one_action = (0 + ... + int{std::same_as<typename Options::limited_option, usage_action_tag>}) <= 1;
                       !one_action) {
    static_assert(one_action, "tollgate: limited<...> got two actions (acquires and releases are exclusive)");
    return false;
  } else if constexpr (constexpr bool one_units = (0 + ... + int{std::same_as<typename Options::limited_option, usage_units_tag>}) <= 1;
                       !one_units) {
    static_assert(one_units, "tollgate: limited<...> got two units<N>");
    return false;
  } else if constexpr (constexpr bool one_key = (0 + ... + int{std::same_as<typename Options::limited_option, usage_key_tag>}) <= 1;
                       !one_key) {
    static_assert(one_key, "tollgate: limited<...> got two idempotency_header<...>");
    return false;
  } else if constexpr (constexpr bool positive = find_limited_option<usage_units_tag, units<1>, Options...>::type::value > 0; !positive) {
    static_assert(positive, "tollgate: limited<...>'s units<N> must be above zero");
    return false;
  } else {
    return true;
  }
}

/// Whether `status` (as the handler left it) means the resource was made or deleted. Frameworks
/// that fill in 200 after the handler leave it unset (-1 or 0) for a handler that set none.
constexpr bool is_success_status(int status) noexcept { return status <= 0 || (status >= 200 && status < 300); }
}  // namespace detail

/// Makes a create (or delete) endpoint count against a plan limit. Itself a handler of the
/// framework's signature, so it registers as a route directly:
///
///     tollgate::memory_usage_store store;
///     tollgate::tenant_limits<> plans;   // default_plans, plan from x-plan-type
///     svr.Post("/deployments", tollgate::limited<"deployments", tollgate::from_header<"tenant-id">>{store, plans, create});
///     svr.Delete(R"(/deployments/(\w+))",
///                tollgate::limited<"deployments", tollgate::from_header<"tenant-id">, tollgate::releases>{store, plans, remove});
///
/// A create: find the tenant (none → 401), its limits (an unknown plan → 422), acquire `units`
/// atomically with the Idempotency-Key (over the limit → 403 and the handler never runs; a retried
/// key counts once), then run the handler; if it throws or answers outside 2xx the acquisition is
/// undone. Past a soft limit (`soft_limit<>` in the plan table) each unit over is charged its
/// overage price on `ledger`, the tenant id being the credential: locked before the handler
/// (refused → 402 and nothing acquired), settled after it, refunded in full if it fails.
/// A delete (`releases`): run the handler, and release `units` when it answers 2xx; so a delete
/// handler answers 404 (not 204) when there was nothing to delete.
template <fixed_string Limit, class TenantExtractor, class... Options>
class limited {
  using well_formed = std::bool_constant<detail::check_limited<Limit, TenantExtractor, Options...>()>;
  template <class Tag, class Default>
  using option = typename detail::chosen_limited_option<well_formed::value, Tag, Default, Options...>::type;
  using action = option<usage_action_tag, acquires>;
  static constexpr std::int64_t unit_count = option<usage_units_tag, units<1>>::value;
  static constexpr std::string_view key_header = option<usage_key_tag, idempotency_header<"Idempotency-Key">>::name;

 public:
  static constexpr std::string_view limit_name = Limit.view();
  using handler_function = std::function<void(const request_ref&, const response_ref&)>;

  /// Counts in `store` against the limits `limits` gives; both must outlive the handler.
  template <class Store, class Limits, class Handler>
  limited(Store& store, const Limits& limits, Handler handler, limited_config config = {}, TenantExtractor extractor = {})
      : state_(make_state(store, limits, std::optional<ledger_ref>{}, std::move(handler), std::move(config), std::move(extractor))) {}

  /// The same, charging overage past a soft limit on `ledger` (which must outlive the handler).
  template <class Store, class Limits, class Ledger, class Handler>
    requires ledger<Ledger>
  limited(Store& store, const Limits& limits, Ledger& overage_ledger, Handler handler, limited_config config = {},
          TenantExtractor extractor = {})
      : state_(make_state(store, limits, std::make_optional<ledger_ref>(overage_ledger), std::move(handler), std::move(config),
                          std::move(extractor))) {}

  template <class Request, class Response>
  void operator()(const Request& req, Response& res) const {
    if constexpr (well_formed::value) {
      if (state_) run(*state_, request_ref(req), response_ref(res));
    }
  }

 private:
  struct state {
    usage_store_ref store;
    std::function<tenant_limits_answer(const request_ref&, std::string_view)> limits;
    std::optional<ledger_ref> ledger;
    handler_function handler;
    limited_config config;
    TenantExtractor extractor;
    std::function<void(std::string_view plan, bool allowed)> count_check{};  // empty: metrics off
  };

  static void reply(const response_ref& res, int status, std::string_view detail) {
    res.set_status(status);
    res.set_content(detail::detail_body(detail), "application/json");
  }

  static void run(const state& s, const request_ref& req, const response_ref& res) {
    const logger& log = s.config.log;
    std::optional<std::string> tenant;
    try {
      tenant = s.extractor.extract(req);
    } catch (const bad_request& e) {
      return reply(res, 400, e.what());
    } catch (const std::exception& e) {
      log.error("limited {}: tenant extractor failed: {}", limit_name, e.what());
      return reply(res, 500, "Could not identify the tenant (extractor failed)");
    }
    if (!tenant) return reply(res, 401, fmt::format("Missing tenant id: expected {}", std::string_view(s.extractor.source())));

    std::optional<std::string> key;
    if (auto given = req.header(key_header)) {
      if (given->empty() || given->size() > s.config.max_key_length)
        return reply(res, 400, fmt::format("The {} header must hold 1 to {} characters", key_header, s.config.max_key_length));
      key.emplace(*given);
    }
    if constexpr (action::acquiring) {
      const bool from_client = key.has_value();
      acquire_and_run(s, req, res, *tenant, from_client ? std::move(*key) : detail::request_key(), from_client);
    } else {
      // Not keyed by path by default: a resource deleted, made again under the same name and deleted
      // again must release twice. A retried delete of a gone resource answers 404: nothing released.
      run_and_release(s, req, res, *tenant, key ? std::move(*key) : detail::request_key());
    }
  }

  static void run_and_release(const state& s, const request_ref& req, const response_ref& res, const std::string& tenant,
                              const std::string& key) {
    s.handler(req, res);  // a throw deletes nothing: nothing to release
    if (!detail::is_success_status(res.status())) return;
    try {
      auto released = s.store.release(tenant, limit_name, unit_count, key);
      if (!released)
        s.config.log.error("limited {}: release of {} unit(s) for tenant {} failed after the delete: {}: {}", limit_name, unit_count,
                           redacted(tenant), to_string(released.error().code), released.error().message);
    } catch (const std::exception& e) {
      s.config.log.error("limited {}: release for tenant {} threw after the delete: {}", limit_name, redacted(tenant), e.what());
    }
  }

  // Gives back what a create acquired: its handler failed, or its overage could not be paid.
  static void undo(const state& s, const std::string& tenant, const std::string& key) noexcept {
    try {
      auto cancelled = s.store.cancel(tenant, limit_name, key);
      if (!cancelled)
        s.config.log.error("limited {}: undoing an acquisition for tenant {} failed ({}: {}); its usage counts {} too many",
                           limit_name, redacted(tenant), to_string(cancelled.error().code), cancelled.error().message, unit_count);
    } catch (...) {
    }
  }

  static void acquire_and_run(const state& s, const request_ref& req, const response_ref& res, const std::string& tenant,
                              const std::string& key, bool key_from_client) {
    const logger& log = s.config.log;
    tenant_limits_answer found = s.limits(req, tenant);
    if (!found.limits) return reply(res, found.status, found.detail);
    const limit_entry* entry = found.limits->entry(limit_name);
    if (entry == nullptr) {
      log.error("limited: plan '{}' has no limit '{}'", found.limits->plan(), limit_name);
      return reply(res, 500, "Server configuration error: unknown limit");
    }
    const limit_value ceiling = max_of(*entry);

    std::optional<result<acquisition>> got;
    try {
      got.emplace(s.store.try_acquire(tenant, limit_name, unit_count, ceiling, key));
    } catch (const std::exception& e) {
      got.emplace(ledger_error{ledger_errc::unavailable, e.what()});
    }
    if (!*got) {
      const ledger_error& e = got->error();
      log.warn("limited {}: usage store failed for tenant {}: {}: {}", limit_name, redacted(tenant), to_string(e.code), e.message);
      if (e.code == ledger_errc::unavailable) {
        res.set_header("Retry-After", "1");
        return reply(res, 503, "Usage store unavailable");
      }
      return reply(res, 500, "Usage store error");
    }
    const acquisition& a = **got;
    if (s.count_check) s.count_check(found.limits->plan(), a.granted);
    if (!a.granted) return refuse_over_limit(res, *found.limits, *entry, a.used);
    // A fresh key of ours can only be "replayed" by the store's own retry of this call (a reply lost
    // on the way back): the acquisition is this request's. A client's key counted on an earlier try.
    if (a.replayed && key_from_client) {
      // The response to the first try was lost: run again, count nothing.
      s.handler(req, res);
      return;
    }

    // Past a soft limit: lock the overage before the work, as metered does.
    std::optional<settlement_guard> overage;
    credits overage_cost{};
    if (entry->overage && !entry->overage->price.is_negative() && entry->overage->price != credits{}) {
      const std::int64_t soft = entry->value.is_unlimited() ? a.used : entry->value.max();
      const std::int64_t before = a.used - unit_count;
      const std::int64_t over = (a.used > soft ? a.used - soft : 0) - (before > soft ? before - soft : 0);
      if (over > 0) {
        auto cost = credits::checked_mul(entry->overage->price, over);
        if (!cost) {
          undo(s, tenant, key);
          return reply(res, 500, "Overage price overflow");
        }
        overage_cost = *cost;
        if (!s.ledger) {
          undo(s, tenant, key);
          log.error("limited {}: plan '{}' has a soft limit but no ledger was given to charge overage", limit_name, found.limits->plan());
          return reply(res, 500, "Server configuration error: no ledger for overage charges");
        }
        std::optional<result<lock_grant>> grant;
        try {
          grant.emplace(s.ledger->lock(tenant, overage_cost, detail::request_key()));
        } catch (const std::exception& e) {
          grant.emplace(ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()});
        }
        if (!*grant) {
          undo(s, tenant, key);
          return refuse_overage(res, grant->error(), *entry, over, overage_cost, log, tenant);
        }
        overage.emplace(*s.ledger, std::move((*grant)->lock_id), redacted(tenant), log);
      }
    }

    try {
      s.handler(req, res);
    } catch (...) {
      if (overage) overage->settle(credits{});
      undo(s, tenant, key);
      throw;
    }
    if (!detail::is_success_status(res.status())) {
      if (overage) overage->settle(credits{});
      undo(s, tenant, key);
      return;
    }
    if (overage) overage->settle(overage_cost);
  }

  // The most a tenant may hold: a plain limit's maximum; a soft limit's ceiling, but never below
  // what the plan includes (an override may raise the soft limit past the ceiling, or lift it).
  static limit_value max_of(const limit_entry& entry) noexcept {
    if (!entry.overage) return entry.value;
    if (entry.value.is_unlimited() || entry.overage->ceiling.is_unlimited()) return unlimited;
    return entry.overage->ceiling.max() > entry.value.max() ? entry.overage->ceiling : entry.value;
  }

  static void refuse_over_limit(const response_ref& res, const plan_limits& limits, const limit_entry& entry, std::int64_t used) {
    if (entry.overage)
      return reply(res, 403,
                   fmt::format("Hard limit reached: plan '{}' allows at most {} {} ({} in use, {} included)", limits.plan(),
                               max_of(entry).max(), limit_name, used, entry.value.max()));
    reply(res, 403,
          fmt::format("Plan limit reached: plan '{}' allows {} {} ({} in use); delete one or upgrade the plan", limits.plan(),
                      entry.value.max(), limit_name, used));
  }

  static void refuse_overage(const response_ref& res, const ledger_error& error, const limit_entry& entry, std::int64_t over, credits cost,
                             const logger& log, const std::string& tenant) {
    switch (error.code) {
      case ledger_errc::insufficient_funds:
      case ledger_errc::unknown_credential:
        log.debug("limited {}: overage of {} refused for tenant {}: {}", limit_name, cost, redacted(tenant), error.message);
        return reply(res, 402,
                     fmt::format("Insufficient balance for the overage: {} {} above the {} included cost {} (at {} each)", over, limit_name,
                                 entry.value.max(), cost, entry.overage->price));
      case ledger_errc::unavailable:
        log.warn("limited {}: overage lock failed for tenant {}: ledger unavailable: {}", limit_name, redacted(tenant), error.message);
        res.set_header("Retry-After", "1");
        return reply(res, 503, "Credit service unavailable");
      default:
        log.error("limited {}: overage lock failed for tenant {}: {}: {}", limit_name, redacted(tenant), to_string(error.code), error.message);
        return reply(res, 500, "Overage charge failed");
    }
  }

  template <class Store, class Limits, class Handler>
  static std::shared_ptr<const state> make_state(Store& store, const Limits& limits, std::optional<ledger_ref> ledger, Handler handler,
                                                 limited_config config, TenantExtractor extractor) {
    if constexpr (!well_formed::value) {
      return nullptr;
    } else if constexpr (!detail::check_usage_store<Store>()) {
      return nullptr;
    } else if constexpr (constexpr bool callable = std::is_invocable_v<Handler&, const request_ref&, const response_ref&> ||
                                                   detail::has_single_signature<Handler>;
                         !callable) {
      static_assert(callable, "tollgate: limited's handler must be callable as (const Request&, Response&)");
      return nullptr;
    } else if constexpr (constexpr bool known = requires { requires Limits::table::template has_limit<Limit>; }; !known) {
      static_assert(known, "tollgate: unknown limit name: limited<Limit, ...> names a limit the plan_table of its tenant_limits does not declare");
      return nullptr;
    } else {
      const Limits* source = &limits;
      std::function<void(std::string_view, bool)> count_check;
      if (metrics::registry* r = config.metrics ? config.metrics : metrics::global_registry().load(std::memory_order_acquire)) {
        auto checks = std::make_shared<metrics::limit_checks<typename Limits::table>>(*r);
        count_check = [checks](std::string_view plan, bool allowed) { checks->record(plan, limit_name, allowed); };
      }
      return std::make_shared<const state>(
          state{usage_store_ref(store),
                [source](const request_ref& r, std::string_view t) { return source->resolve(r, t); },
                std::move(ledger), make_invoker(std::move(handler)), std::move(config), std::move(extractor), std::move(count_check)});
    }
  }

  template <class Handler>
  static handler_function make_invoker(Handler handler) {
    auto shared = std::make_shared<Handler>(std::move(handler));  // any handler, even move-only
    if constexpr (std::is_invocable_v<Handler&, const request_ref&, const response_ref&>) {
      return [shared](const request_ref& req, const response_ref& res) { (*shared)(req, res); };
    } else {
      using params = typename detail::parameters_of<Handler>::type;
      return typed_invoker(std::move(shared), params{});
    }
  }
  template <class Handler, class RequestParam, class ResponseParam>
  static handler_function typed_invoker(std::shared_ptr<Handler> handler, detail::type_list<RequestParam, ResponseParam>) {
    using Request = std::remove_cvref_t<RequestParam>;
    using Response = std::remove_cvref_t<ResponseParam>;
    return [handler](const request_ref& req, const response_ref& res) {
      const Request* native_req = req.template native<Request>();
      Response* native_res = res.template native<Response>();
      if (native_req == nullptr || native_res == nullptr)
        throw std::logic_error("tollgate::limited: the handler was called with another framework's request/response types");
      (*handler)(*native_req, *native_res);
    };
  }

  std::shared_ptr<const state> state_;
};

}  // namespace tollgate

#endif  // TOLLGATE_USAGE_LIMITED_HPP
