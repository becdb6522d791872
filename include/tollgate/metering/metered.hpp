// SPDX-License-Identifier: MIT
// metered<Extractor, Estimate, Calculator, Options...>: wraps a handler in lock → run → settle.
#ifndef TOLLGATE_METERING_METERED_HPP
#define TOLLGATE_METERING_METERED_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string_view>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tollgate/calculators/calculator.hpp>
#include <tollgate/credits.hpp>
#include <tollgate/detail/callable_traits.hpp>
#include <tollgate/detail/json_text.hpp>
#include <tollgate/detail/random_id.hpp>
#include <tollgate/detail/recycling_allocator.hpp>
#include <tollgate/estimates/estimate.hpp>
#include <tollgate/extractors/extractor.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/http/stream.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metering/bad_request.hpp>
#include <tollgate/metering/context.hpp>
#include <tollgate/metering/options.hpp>
#include <tollgate/metering/settlement_guard.hpp>

namespace tollgate {

/// Run-time settings of a metered handler.
struct metered_config {
  logger log{};                                ///< where refusals, settle failures and calculator errors go
  settle_failure_handler on_settle_failure{};  ///< called after a failed settle is logged
};

namespace detail {
/// Answers an error the way every tollgate error is answered: a status and `{"detail": "…"}`.
inline void write_error(const response_ref& res, int status, std::string_view detail) {
  res.set_status(status);
  res.set_content(detail_body(detail), "application/json");
}

template <class T>
constexpr bool dependent_false = false;
}  // namespace detail

/// Makes a handler pay-per-request. It is itself a handler of the framework's signature, so it
/// registers as a route directly:
///
///     tollgate::memory_ledger ledger;
///     svr.Get("/api/simple",
///             tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>,
///                               tollgate::fixed_cost<1_cr>>{ledger, handler});
///
/// For each request: extract the user id (none → 401), lock the estimate (refused → 402/404/503/500
/// and the handler never runs), run the handler (it throws → full refund, exception rethrown),
/// compute the cost (calculator throws → the estimate), apply the overage policy, settle. Every
/// lock is settled exactly once, by a settlement_guard.
///
/// The handler takes `(const Req&, Res&)` or `(const Req&, Res&, tollgate::metering_context&)`,
/// with the framework's types or tollgate's `request_ref`/`response_ref`. Options (in any order):
/// an overage policy (`overage::clamp` by default) and a status policy (`default_statuses`).
/// The ledger is held by reference and must outlive the handler.
template <class Extractor, class Estimate, class Calculator = charge_estimate, class... Options>
class metered {
  static_assert(detail::check_extractor<Extractor>());
  static_assert(detail::check_estimate<Estimate>());
  static_assert(detail::check_calculator<Calculator>());
  static_assert((detail::is_metered_option<Options> && ...),
                "tollgate: an option given to metered<...> is neither an overage policy nor a status policy "
                "(it needs `using metered_option = tollgate::overage_option_tag;` or `status_option_tag`)");
  static_assert(detail::count_option<overage_option_tag, Options...> <= 1, "tollgate: metered<...> got two overage policies");
  static_assert(detail::count_option<status_option_tag, Options...> <= 1, "tollgate: metered<...> got two status policies");

  using overage_policy = typename detail::find_option<overage_option_tag, overage::clamp, Options...>::type;
  using status_policy = typename detail::find_option<status_option_tag, default_statuses, Options...>::type;

 public:
  using handler_function = std::function<void(const request_ref&, const response_ref&, metering_context&)>;

  template <class Ledger, class Handler>
  metered(Ledger& ledger, Handler handler, metered_config config = {})
      : metered(ledger, std::move(handler), Extractor{}, Estimate{}, Calculator{}, std::move(config)) {}

  /// With policy instances, for policies that carry state (a verifier's secret, a price table).
  template <class Ledger, class Handler>
  metered(Ledger& ledger, Handler handler, Extractor extractor, Estimate estimate = {}, Calculator calculator = {},
          metered_config config = {})
      : state_(std::make_shared<const state>(state{ledger_ref(ledger), std::move(extractor), std::move(estimate),
                                                   std::move(calculator), std::move(config),
                                                   make_invoker(std::move(handler))})) {}

  template <class Request, class Response>
  void operator()(const Request& req, Response& res) const {
    run(request_ref(req), response_ref(res));
  }

 private:
  struct state {
    ledger_ref ledger;
    Extractor extractor;
    Estimate estimate;
    Calculator calculator;
    metered_config config;
    handler_function handler;
  };

  // One request's charge: the context and the guard, kept alive past the handler while a
  // streamed body is still being sent, and settled when the stream ends. It borrows the route's
  // state; only a stream, which may outlive the route, takes shared ownership of it.
  struct charge final : stream_observer {
    charge(const state& owner_, const request_ref& req_, const response_ref& res_, redacted who, std::string lock_id,
           credits amount_)
        : owner(&owner_), req(req_), res(res_), ctx(std::move(who), std::move(lock_id), amount_),
          guard(owner_.ledger, ctx.lock_id(), ctx.user_id(), owner_.config.log, owner_.config.on_settle_failure,
                settlement_guard::borrow),
          amount(amount_) {}
    ~charge() override {
      if (streaming) finished(false);  // the framework dropped the stream without reporting its end
    }

    void delivered(std::size_t bytes) noexcept override { delivered_bytes.fetch_add(bytes, std::memory_order_relaxed); }
    void failed(std::string_view why) noexcept override {
      std::lock_guard lock(failure_mutex);
      failure.assign(why.data(), why.size());
    }
    void finished(bool completed) noexcept override {
      if (finished_once.exchange(true)) return;
      streaming = false;
      try {
        ctx.record_elapsed(std::chrono::steady_clock::now() - started);
        ctx.record_response_bytes(delivered_bytes.load());
        const logger& log = owner->config.log;
        if (!completed) {
          std::lock_guard lock(failure_mutex);
          if (failure.empty())
            log.warn("lock {}: client disconnected after {} bytes; charging what was delivered", ctx.lock_id(), ctx.response_bytes());
          else
            log.error("lock {}: stream failed after {} bytes ({}); charging what was delivered", ctx.lock_id(), ctx.response_bytes(), failure);
        }
        settle_actual(*this, /*can_withhold=*/false);
      } catch (...) {  // never let a settlement escape into the framework's sending thread
      }
    }

    const state* owner;
    std::shared_ptr<const state> keep_alive;  // set only for a stream, which may outlive the route
    request_ref req;
    response_ref res;
    metering_context ctx;
    settlement_guard guard;
    credits amount;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<std::size_t> delivered_bytes{0};
    std::atomic<bool> finished_once{false};
    bool streaming = false;
    std::mutex failure_mutex;
    std::string failure;
  };

  void run(const request_ref& req, const response_ref& res) const {
    const state& s = *state_;
    const logger& log = s.config.log;

    // 1. Who pays.
    std::optional<std::string> user;
    try {
      user = s.extractor.extract(req);
    } catch (const bad_request& e) {
      return detail::write_error(res, 400, e.what());
    } catch (const std::exception& e) {
      log.error("user-id extractor failed on {} {}: {}", req.method(), req.path(), e.what());
      return detail::write_error(res, 500, "Could not identify the caller (extractor failed)");
    }
    if (!user) {
      return detail::write_error(res, 401, fmt::format("Missing user id: expected {}", std::string_view(s.extractor.source())));
    }
    redacted who(std::move(*user));

    // 2. How much to hold.
    credits amount;
    try {
      amount = s.estimate(req);
    } catch (const bad_request& e) {
      return detail::write_error(res, 400, e.what());
    } catch (const std::exception& e) {
      log.error("estimate failed on {} {}: {}", req.method(), req.path(), e.what());
      return detail::write_error(res, 500, "Could not estimate the cost of this request");
    }
    if (amount.is_negative()) {
      log.error("estimate for {} {} is negative ({}); refusing the request", req.method(), req.path(), amount);
      return detail::write_error(res, 500, "Metering misconfigured: negative estimate");
    }

    // 3. Hold it. A fresh key per request: a transport's own retries of this lock reuse it.
    std::optional<result<lock_grant>> grant;
    try {
      grant.emplace(s.ledger.lock(who.reveal(), amount, detail::request_key()));
    } catch (const std::exception& e) {
      grant.emplace(ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()});
    }
    if (!*grant) return refuse(res, grant->error(), who, log);

    // From here the lock belongs to `held`: if the handler throws, its guard refunds in full.
    std::shared_ptr<charge> held;
    try {
      held = std::allocate_shared<charge>(detail::recycling_allocator<charge>{}, s, req, res, std::move(who),
                                          std::move((*grant)->lock_id), amount);
    } catch (...) {  // out of memory before a guard owned the lock: release it here
      try {
        (void)s.ledger.release((*grant)->lock_id);
      } catch (...) {
      }
      throw;
    }

    // 4. Serve.
    try {
      s.handler(req, res, held->ctx);
    } catch (...) {
      res.abandon_stream();  // a stream set before the throw must not be sent after the refund
      throw;
    }

    // 5. A streamed body is priced and settled when the stream ends; anything else now.
    held->streaming = true;
    if (res.observe_stream(held)) {
      held->keep_alive = state_;  // `held` is ours until we return, so the route cannot go first
      return;
    }
    held->streaming = false;
    held->finished_once = true;
    held->ctx.record_elapsed(std::chrono::steady_clock::now() - held->started);
    // A HEAD response carries no body on the wire: nothing of it is delivered to be priced.
    held->ctx.record_response_bytes(req.method() == "HEAD" ? 0 : res.body_size());
    settle_actual(*held, /*can_withhold=*/true);
  }

  // Prices the request, applies the overage policy and settles the lock.
  static void settle_actual(charge& c, bool can_withhold) {
    const state& s = *c.owner;
    const logger& log = s.config.log;
    metering_context& ctx = c.ctx;
    const credits amount = c.amount;
    credits cost = actual_cost(s, c.req, c.res, ctx, log);
    if (cost > amount) {
      if constexpr (overage_policy::value == overage::mode::reject) {
        if (can_withhold) {
          log.warn("lock {}: cost {} above the estimate {}; response withheld, nothing charged", ctx.lock_id(), cost, amount);
          detail::write_error(c.res, 402, fmt::format("The actual cost {} exceeds the {} held for this request", cost, amount));
          c.guard.settle(credits{});
          return;
        }
        // A stream is already delivered: it cannot be withheld, so it is charged up to the hold.
        log.warn("lock {}: streamed cost {} above the estimate {}; charging the estimate", ctx.lock_id(), cost, amount);
        cost = amount;
      } else if constexpr (overage_policy::value == overage::mode::charge_actual) {
        // Probe the overage first: a refusal (no allowance, or a balance that does not cover it)
        // leaves the guard open, so the estimate is settled instead and only that is reported.
        auto attempt = c.guard.try_settle(cost);
        if (attempt) return;
        if (is_transient(attempt.error().code)) {
          c.guard.settle(cost);  // one more try, then the usual failure path (log, hook)
          return;
        }
        log.warn("lock {}: overage {} refused by the ledger ({}); settling for the estimate {}", ctx.lock_id(), cost,
                 attempt.error().message, amount);
        cost = amount;
      } else {
        log.debug("lock {}: cost {} above the estimate {}; charging the estimate", ctx.lock_id(), cost, amount);
        cost = amount;
      }
    }
    if (auto outcome = c.guard.settle(cost); outcome && *outcome) {
      if ((*outcome)->deferred)
        log.warn("lock {}: settlement of {} deferred to the outbox; it is retried until it lands", ctx.lock_id(), cost);
      else
        log.debug("lock {} settled: charged {} of {} held (user {})", ctx.lock_id(), cost, amount, ctx.user_id());
    }
  }

  static credits actual_cost(const state& s, const request_ref& req, const response_ref& res, const metering_context& ctx,
                             const logger& log) {
    if (ctx.waived()) return credits{};
    if (auto fixed = ctx.cost_override()) {
      if (fixed->is_negative()) {
        log.warn("lock {}: handler set a negative cost {}; charging nothing", ctx.lock_id(), *fixed);
        return credits{};
      }
      return *fixed;
    }
    try {
      const credits cost = s.calculator(req, res, ctx);
      if (cost.is_negative()) {
        log.warn("lock {}: calculator returned a negative cost {}; charging nothing", ctx.lock_id(), cost);
        return credits{};
      }
      return cost;
    } catch (const std::exception& e) {
      log.error("lock {}: cost calculator threw ({}); charging the estimate {}", ctx.lock_id(), e.what(), ctx.estimate());
    } catch (...) {
      log.error("lock {}: cost calculator threw; charging the estimate {}", ctx.lock_id(), ctx.estimate());
    }
    return ctx.estimate();
  }

  static void refuse(const response_ref& res, const ledger_error& error, const redacted& who, const logger& log) {
    const int status = status_policy::status_for(error.code);
    std::string detail;
    switch (error.code) {
      case ledger_errc::insufficient_funds:
        log.debug("lock refused for {}: {}", who, error.message);
        detail = "Insufficient balance: " + error.message;
        break;
      case ledger_errc::unknown_credential:
        log.debug("lock refused for {}: {}", who, error.message);  // the ledger may say what is missing
        detail = "User not found: the ledger knows no user for this credential";
        break;
      case ledger_errc::unavailable:
        log.warn("lock failed for {}: ledger unavailable: {}", who, error.message);
        detail = "Credit service unavailable: " + error.message;
        res.set_header("Retry-After", std::to_string(status_policy::retry_after_seconds));
        break;
      case ledger_errc::unauthorized:
        log.error("lock failed: the ledger rejected tollgate's own credentials: {}", error.message);
        detail = "Credit service rejected this server's credentials (a configuration error)";
        break;
      default:
        log.error("lock failed for {}: {}: {}", who, to_string(error.code), error.message);
        detail = "Metering misconfigured: " + error.message;
        break;
    }
    detail::write_error(res, status, detail);
  }

  template <class Handler>
  static handler_function make_invoker(Handler handler) {
    auto shared = std::make_shared<Handler>(std::move(handler));  // any handler, even move-only
    if constexpr (detail::has_single_signature<Handler>) {
      return typed_invoker(std::move(shared), typename detail::parameters_of<Handler>::type{});
    } else if constexpr (std::is_invocable_v<Handler&, const request_ref&, const response_ref&, metering_context&>) {
      return [shared](const request_ref& req, const response_ref& res, metering_context& ctx) { (*shared)(req, res, ctx); };
    } else if constexpr (std::is_invocable_v<Handler&, const request_ref&, const response_ref&>) {
      return [shared](const request_ref& req, const response_ref& res, metering_context&) { (*shared)(req, res); };
    } else {
      static_assert(detail::dependent_false<Handler>,
                    "tollgate: the handler must be callable as (const Request&, Response&) or "
                    "(const Request&, Response&, tollgate::metering_context&)");
      return {};
    }
  }

  template <class Handler, class RequestParam, class ResponseParam, class... Rest>
  static handler_function typed_invoker(std::shared_ptr<Handler> handler, detail::type_list<RequestParam, ResponseParam, Rest...>) {
    using Request = std::remove_cvref_t<RequestParam>;
    using Response = std::remove_cvref_t<ResponseParam>;
    static_assert(sizeof...(Rest) == 0 || (sizeof...(Rest) == 1 && (std::is_same_v<std::remove_cvref_t<Rest>, metering_context> && ...)),
                  "tollgate: a handler's third parameter, if any, must be tollgate::metering_context&");
    return [handler](const request_ref& req, const response_ref& res, metering_context& ctx) {
      const Request* native_req = nullptr;
      Response* native_res = nullptr;
      response_ref res_copy = res;
      if constexpr (std::is_same_v<Request, request_ref>) native_req = &req; else native_req = req.template native<Request>();
      if constexpr (std::is_same_v<Response, response_ref>) native_res = &res_copy; else native_res = res.template native<Response>();
      if (native_req == nullptr || native_res == nullptr)
        throw std::logic_error("tollgate::metered: the handler was called with another framework's request/response types");
      if constexpr (sizeof...(Rest) == 1) (*handler)(*native_req, *native_res, ctx); else (*handler)(*native_req, *native_res);
    };
  }

  template <class Handler, class... Params>
  static handler_function typed_invoker(std::shared_ptr<Handler>, detail::type_list<Params...>) {
    static_assert(detail::dependent_false<Handler>,
                  "tollgate: the handler must take (const Request&, Response&) or (const Request&, Response&, tollgate::metering_context&)");
    return {};
  }

  std::shared_ptr<const state> state_;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_METERED_HPP
