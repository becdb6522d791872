// SPDX-License-Identifier: MIT
// metered<Extractor, Estimate, Calculator, Options...>: wraps a handler in lock → run → settle.
#ifndef TOLLGATE_METERING_METERED_HPP
#define TOLLGATE_METERING_METERED_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

#include <fmt/core.h>

#include <tollgate/calculators/calculator.hpp>
#include <tollgate/credits.hpp>
#include <tollgate/detail/callable_traits.hpp>
#include <tollgate/detail/json_text.hpp>
#include <tollgate/detail/random_id.hpp>
#include <tollgate/unique_function.hpp>
#include <tollgate/detail/recycling_allocator.hpp>
#include <tollgate/estimates/estimate.hpp>
#include <tollgate/extractors/extractor.hpp>
#include <tollgate/fwd.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/http/stream.hpp>
#include <tollgate/ledgers/async_ledger.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/logging/redacted.hpp>
#include <tollgate/metering/async_settlement.hpp>
#include <tollgate/metering/bad_request.hpp>
#include <tollgate/metering/context.hpp>
#include <tollgate/metering/options.hpp>
#include <tollgate/metering/settlement_guard.hpp>
#include <tollgate/metrics/metering_metrics.hpp>

namespace tollgate {

/// Run-time settings of a metered handler.
struct metered_config {
  logger log{};                                ///< where refusals, settle failures and calculator errors go
  settle_failure_handler on_settle_failure{};  ///< called after a failed settle is logged
  /// Where this route's metrics go (README "Metrics"); null: `metrics::global_registry()` if set,
  /// else none, and metering runs exactly as without metrics.
  metrics::registry* metrics = nullptr;
  std::string route{};  ///< the `route` label: a name or pattern, never a path carrying ids ("unnamed" if empty)
  /// With metrics on, the ledger calls of one request in this many (per thread) are timed for
  /// `tollgate_ledger_call_duration_seconds`; the others read no clock. 1: every request; 0: none.
  std::uint32_t time_one_request_in = 16;
};

namespace detail {
/// Answers an error the way every tollgate error is answered: a status and `{"detail": "…"}`.
inline void write_error(const response_ref& res, int status, std::string_view detail) {
  res.set_status(status);
  res.set_content(detail_body(detail), "application/json");
}

/// Whether `Option` carries one of the two option tags. A requires-expression, so asking it of any
/// type is safe: one without `metered_option` is simply not an option, not an error. (A variable,
/// not a concept: clang then names the stray option when a fold over the options fails.)
template <class Option>
constexpr bool is_tagged_metered_option = requires {
  requires std::same_as<typename Option::metered_option, overage_option_tag> ||
               std::same_as<typename Option::metered_option, status_option_tag>;
};

/// metered's type arguments, in order: the extractor, the estimate, the calculator, then the
/// options. Stops at the first mistake and returns false, so its message is the only error.
template <class Extractor, class Estimate, class Calculator, class... Options>
constexpr bool check_metered() {
  // Nested, not `a() || b()`: naming a check instantiates it, and each check that fails says so.
  if constexpr (!check_extractor<Extractor>()) {
    return false;
  } else if constexpr (!check_estimate<Estimate>()) {
    return false;
  } else if constexpr (!check_calculator<Calculator>()) {
    return false;
  } else if constexpr (!(is_tagged_metered_option<Options> && ...)) {
    static_assert((is_tagged_metered_option<Options> && ...),
                  "tollgate: an option given to metered<...> is neither an overage policy nor a status policy "
                  "(it needs `using metered_option = tollgate::overage_option_tag;` or `status_option_tag`)");
    return false;
  } else if constexpr (constexpr bool one_overage = count_option<overage_option_tag, Options...> <= 1; !one_overage) {
    static_assert(one_overage, "tollgate: metered<...> got two overage policies");
    return false;
  } else if constexpr (constexpr bool one_status = count_option<status_option_tag, Options...> <= 1; !one_status) {
    static_assert(one_status, "tollgate: metered<...> got two status policies");
    return false;
  } else {
    return true;
  }
}

/// The option tagged `Tag`, or `Default`. A refused metered takes the defaults without looking:
/// its options may have no tag to look up, and that would be a second error.
template <bool WellFormed, class Tag, class Default, class... Options>
struct chosen_option {
  using type = Default;
};
template <class Tag, class Default, class... Options>
struct chosen_option<true, Tag, Default, Options...> : find_option<Tag, Default, Options...> {};

/// A type metered can give a handler as its request or response: tollgate's own reference, or a
/// type tollgate knows how to read (`request_traits`) or write (`response_traits`), or a framework
/// type an adapter serves in a wrapper (`request_wrapper`, `response_wrapper`).
template <class T>
concept handler_request_type = std::same_as<T, request_ref> || requires { sizeof(request_traits<T>); } ||
                               requires { typename request_wrapper<T>::type; };
template <class T>
concept handler_response_type = std::same_as<T, response_ref> || requires { sizeof(response_traits<T>); } ||
                                requires { typename response_wrapper<T>::type; };

/// Whether these parameters start with a request and a response type.
template <class RequestParam, class ResponseParam, class... Rest>
constexpr bool starts_with_request_and_response(type_list<RequestParam, ResponseParam, Rest...>) {
  return handler_request_type<std::remove_cvref_t<RequestParam>> && handler_response_type<std::remove_cvref_t<ResponseParam>>;
}
template <class... Params>
constexpr bool starts_with_request_and_response(type_list<Params...>) {
  return false;  // fewer than two parameters
}

/// Whether a handler whose only signature has these parameters is one metered can call:
/// (const Request&, Response&) or (const Request&, Response&, metering_context&).
template <class Handler, class RequestParam, class ResponseParam, class... Rest>
constexpr bool takes_request_and_response(type_list<RequestParam, ResponseParam, Rest...>) {
  using Request = std::remove_cvref_t<RequestParam>;
  using Response = std::remove_cvref_t<ResponseParam>;
  if constexpr (!starts_with_request_and_response(type_list<RequestParam, ResponseParam>{})) return false;
  else if constexpr (sizeof...(Rest) == 0) return std::is_invocable_v<Handler&, const Request&, Response&>;
  else if constexpr (sizeof...(Rest) == 1) return std::is_invocable_v<Handler&, const Request&, Response&, metering_context&>;
  else return false;
}
template <class Handler, class... Params>
constexpr bool takes_request_and_response(type_list<Params...>) {
  return false;  // fewer than two parameters
}

/// The diagnostic of the first parameter type an adapter words its signature for, or void.
template <class... Params>
struct adapter_diagnostic {
  using type = void;
};
template <class First, class... Rest>
struct adapter_diagnostic<First, Rest...> {
  using type = std::conditional_t<handler_diagnostic<std::remove_cvref_t<First>>::known,
                                  handler_diagnostic<std::remove_cvref_t<First>>, typename adapter_diagnostic<Rest...>::type>;
};

/// Refuses a handler of one signature with exactly one message: the framework's signature when a
/// parameter belongs to a framework whose adapter words it, tollgate's generic one otherwise.
template <class Handler, class... Params>
constexpr bool refuse_handler(type_list<Params...>) {
  using diagnostic = typename adapter_diagnostic<Params...>::type;
  if constexpr (!std::is_void_v<diagnostic>) {
    return diagnostic::template refuse<Handler>();
  } else {
    static_assert(dependent_false<Handler>,
                  "tollgate: the handler must take (const Request&, Response&) or (const Request&, Response&, tollgate::metering_context&)");
    return false;
  }
}

/// Whether metered can call `Handler`; when not, says why in one message and returns false.
template <class Handler>
constexpr bool check_handler() {
  if constexpr (has_single_signature<Handler>) {
    using params = typename parameters_of<Handler>::type;
    if constexpr (takes_request_and_response<Handler>(params{})) {
      return true;
    } else if constexpr (params::size == 3 && starts_with_request_and_response(params{})) {
      // Right request and response, wrong third parameter: say exactly that.
      static_assert(dependent_false<Handler>, "tollgate: a handler's third parameter, if any, must be tollgate::metering_context&");
      return false;
    } else {
      return refuse_handler<Handler>(params{});
    }
  } else if constexpr (std::is_invocable_v<Handler&, const request_ref&, const response_ref&, metering_context&> ||
                       std::is_invocable_v<Handler&, const request_ref&, const response_ref&>) {
    return true;  // a generic lambda or an overloaded functor: called with tollgate's references
  } else {
    static_assert(dependent_false<Handler>,
                  "tollgate: the handler must be callable as (const Request&, Response&) or "
                  "(const Request&, Response&, tollgate::metering_context&)");
    return false;
  }
}
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
template <class Extractor, class Estimate, class Calculator, class... Options>  // Calculator = charge_estimate: in fwd.hpp
class metered {
  // A type rather than a value, so the checks run as soon as metered<...> is named. When one
  // fails, its message is the only error: nothing below that would use the type is instantiated.
  using well_formed = std::bool_constant<detail::check_metered<Extractor, Estimate, Calculator, Options...>()>;

  using overage_policy = typename detail::chosen_option<well_formed::value, overage_option_tag, overage::clamp, Options...>::type;
  using status_policy = typename detail::chosen_option<well_formed::value, status_option_tag, default_statuses, Options...>::type;

 public:
  using handler_function = std::function<void(const request_ref&, const response_ref&, metering_context&)>;

  template <class Ledger, class Handler>
  metered(Ledger& ledger, Handler handler, metered_config config = {})
      : metered(ledger, std::move(handler), Extractor{}, Estimate{}, Calculator{}, std::move(config)) {}

  /// With policy instances, for policies that carry state (a verifier's secret, a price table).
  template <class Ledger, class Handler>
  metered(Ledger& ledger, Handler handler, Extractor extractor, Estimate estimate = {}, Calculator calculator = {},
          metered_config config = {})
      : state_(make_state(ledger, std::move(handler), std::move(extractor), std::move(estimate), std::move(calculator),
                          std::move(config))) {}

  template <class Request, class Response>
  void operator()(const Request& req, Response& res) const {
    if constexpr (well_formed::value) run(request_ref(req), response_ref(res));  // a refused metered never runs
  }

  /// A unit of work `async_call` hands to `resume`, and the completion it reports to `done`.
  using task = unique_task;

  /// The non-blocking path, for event-loop servers; the ledger must model `async_ledger` (wrap a
  /// blocking one in `offloading_ledger`). Nothing here waits: the lock is asked for and, when the
  /// ledger answers (on whatever thread it answers on), `resume(task)` is called with the rest of
  /// the work; `resume` must run `task` where the request may be served (an event loop posts it to
  /// the connection's executor; calling it at once is fine where any thread may serve).
  /// `done()` is called exactly once — from such a task, or before `async_call` returns when no
  /// ledger call is needed (no user id → 401) — when the response is complete and may be sent; the
  /// settle may still be in flight then, with the same guarantees as the blocking path: the handler
  /// never runs on a refused lock, a throwing handler is refunded in full (and answered 500), every
  /// lock is settled exactly once, and a stream is settled when it ends. `req` and `res` must live
  /// until `done()`.
  /// Whether `async_call` can serve: the ledger has async forms (else it answers 500).
  [[nodiscard]] bool serves_async() const noexcept { return state_ && state_->async_ledger.has_value(); }

  template <class Request, class Response, class Resume, class Done>
  void async_call(const Request& req, Response& res, Resume resume, Done done) const {
    if constexpr (well_formed::value) {
      async_run(state_, request_ref(req), response_ref(res), unique_function<void(task)>(std::move(resume)),
                task(std::move(done)));
    }
  }

 private:
  struct state {
    ledger_ref ledger;
    Extractor extractor;
    Estimate estimate;
    Calculator calculator;
    metered_config config;
    handler_function handler;
    std::optional<async_ledger_ref> async_ledger;  // set when the ledger also models async_ledger
    bool keyed_locks = true;  // false for an in_process_ledger: no answer can be lost, so no key is needed

    // A fresh key per request: a transport's own retries of this lock, or a lookup after its answer
    // was lost, reuse it.
    [[nodiscard]] std::string lock_key() const { return keyed_locks ? detail::request_key() : std::string(); }

    std::unique_ptr<metrics::observed_ledger> observed{};  // null when metrics are off: `ledger` is the ledger itself

    void answered(int status) const noexcept {
      if (observed) observed->metrics().answered(status);
    }
    void served(bool withheld) const noexcept {
      if (observed) withheld ? observed->metrics().answered(402) : observed->metrics().served();
    }
  };

  // One request's charge: the context and the guard, kept alive past the handler while a
  // streamed body is still being sent, and settled when the stream ends. It borrows the route's
  // state; only a stream, which may outlive the route, takes shared ownership of it.
  // The same on both paths but for its guard: the blocking path's settlement_guard borrows from the
  // route; the non-blocking path's async_settlement owns copies, as answers may outlive the request.
  template <bool Async>
  struct basic_charge final : stream_observer {
    using guard_type = std::conditional_t<Async, async_settlement, settlement_guard>;
    static constexpr bool timed = calculator_reads_elapsed<Calculator>;

    basic_charge(const state& owner_, const request_ref& req_, const response_ref& res_, redacted who, std::string lock_id,
                 credits amount_)
        : owner(&owner_), req(req_), res(res_), ctx(std::move(who), std::move(lock_id), amount_),
          meter(owner_.observed.get(), amount_), guard(make_guard(owner_, ctx, meter)), amount(amount_) {}
    ~basic_charge() override {
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
        stop_clock();
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

    void start_settle(std::chrono::steady_clock::time_point at) noexcept {
      if constexpr (Async) guard.start_settle(at); else meter.start_settle(at);
    }

    static guard_type make_guard(const state& o, const metering_context& c, metrics::charge_meter& m) {
      if constexpr (Async)
        return async_settlement(*o.async_ledger, c.lock_id(), c.estimate(), c.user_id(), o.config.log, o.config.on_settle_failure,
                                o.observed.get());
      else  // an observed route settles through the charge's meter, which knows the hold and counts the refund
        return settlement_guard(o.observed ? ledger_ref(m) : o.ledger, c.lock_id(), c.user_id(), o.config.log,
                                o.config.on_settle_failure, settlement_guard::borrow);
    }

    const state* owner;
    std::shared_ptr<const state> keep_alive;  // set for a stream or an async request, which may outlive the route
    request_ref req;
    response_ref res;
    metering_context ctx;
    metrics::charge_meter meter;  // before the guard, which may settle through it as it is destroyed
    guard_type guard;
    credits amount;
    // The handler's run time, for a calculator that reads it (calculator_reads_elapsed); with the
    // route's metrics on, the same read starts the settle's timing (and `started` ends the lock's).
    void stop_clock() noexcept {
      if (!timed && !sampled) return;
      const auto ended = std::chrono::steady_clock::now();
      if constexpr (timed) ctx.record_elapsed(ended - started);
      if (sampled) start_settle(ended);
    }
    // Whether the route's metrics time this request's ledger calls (set by after_lock on the non-blocking path).
    bool sampled = !Async && owner->observed && metrics::observed_ledger::timing_this_request();
    std::chrono::steady_clock::time_point started = timed || sampled ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::atomic<std::size_t> delivered_bytes{0};
    std::atomic<bool> finished_once{false};
    bool streaming = false;
    bool withheld = false;  // answered 402 by overage::reject instead of the handler's response
    std::mutex failure_mutex;
    std::string failure;
  };
  using charge = basic_charge<false>;
  using async_charge = basic_charge<true>;

  // The request's payer and what to hold for it: steps 1 and 2 of both paths.
  struct payer {
    redacted who;
    credits amount;
  };

  // Nullopt when the request was answered already (no user id, a bad request, a broken policy).
  static std::optional<payer> identify(const state& s, const request_ref& req, const response_ref& res) {
    const logger& log = s.config.log;

    // 1. Who pays.
    std::optional<std::string> user;
    try {
      user = s.extractor.extract(req);
    } catch (const bad_request& e) {
      detail::write_error(res, 400, e.what());
      s.answered(400);
      return std::nullopt;
    } catch (const std::exception& e) {
      log.error("user-id extractor failed on {} {}: {}", req.method(), req.path(), e.what());
      detail::write_error(res, 500, "Could not identify the caller (extractor failed)");
      s.answered(500);
      return std::nullopt;
    }
    if (!user) {
      detail::write_error(res, 401, fmt::format("Missing user id: expected {}", std::string_view(s.extractor.source())));
      s.answered(401);
      return std::nullopt;
    }

    // 2. How much to hold.
    credits amount;
    try {
      amount = s.estimate(req);
    } catch (const bad_request& e) {
      detail::write_error(res, 400, e.what());
      s.answered(400);
      return std::nullopt;
    } catch (const std::exception& e) {
      log.error("estimate failed on {} {}: {}", req.method(), req.path(), e.what());
      detail::write_error(res, 500, "Could not estimate the cost of this request");
      s.answered(500);
      return std::nullopt;
    }
    if (amount.is_negative()) {
      log.error("estimate for {} {} is negative ({}); refusing the request", req.method(), req.path(), amount);
      detail::write_error(res, 500, "Metering misconfigured: negative estimate");
      s.answered(500);
      return std::nullopt;
    }
    return payer{redacted(std::move(*user)), amount};
  }

  void run(const request_ref& req, const response_ref& res) const {
    const state& s = *state_;
    const logger& log = s.config.log;
    std::optional<payer> asked = identify(s, req, res);
    if (!asked) return;
    redacted who = std::move(asked->who);
    const credits amount = asked->amount;

    // 3. Hold it.
    std::optional<result<lock_grant>> grant;
    try {
      grant.emplace(s.ledger.lock(who.reveal(), amount, s.lock_key()));
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
    if (s.observed) s.observed->lock_finished(held->started);  // the lock's timing ends at the charge's first read

    // 4. Serve.
    try {
      s.handler(req, res, held->ctx);
    } catch (...) {
      res.abandon_stream();  // a stream set before the throw must not be sent after the refund
      s.answered(500);       // the framework answers the exception
      throw;
    }

    // 5. A streamed body is priced and settled when the stream ends; anything else now.
    held->streaming = true;
    if (res.observe_stream(held)) {
      held->keep_alive = state_;  // `held` is ours until we return, so the route cannot go first
      s.served(false);
      return;
    }
    held->streaming = false;
    held->finished_once = true;
    held->stop_clock();
    // A HEAD response carries no body on the wire: nothing of it is delivered to be priced.
    held->ctx.record_response_bytes(req.method() == "HEAD" ? 0 : res.body_size());
    settle_actual(*held, /*can_withhold=*/true);
    s.served(held->withheld);
  }

  // --- the non-blocking path ---------------------------------------------------------------------

  // One request between its lock call and the ledger's answer. On the heap: the credential passed to
  // async_lock must stay put while the handler that will carry it is built.
  struct pending_request {
    pending_request(std::shared_ptr<const state> owner_, const request_ref& req_, const response_ref& res_, redacted who_,
                    credits amount_, unique_function<void(task)> resume_, task done_)
        : owner(std::move(owner_)), req(req_), res(res_), who(std::move(who_)), amount(amount_), resume(std::move(resume_)),
          done(std::move(done_)) {}
    std::shared_ptr<const state> owner;
    request_ref req;
    response_ref res;
    redacted who;
    credits amount;
    unique_function<void(task)> resume;
    task done;
    std::atomic<bool> answered{false};
    std::optional<result<lock_grant>> grant;  // kept here, so the task that resumes fits unique_task's inline buffer
    std::chrono::steady_clock::time_point asked_at{};  // read only when the route's metrics time this request
  };

  static void async_run(const std::shared_ptr<const state>& owner, const request_ref& req, const response_ref& res,
                        unique_function<void(task)> resume, task done) {
    const state& s = *owner;
    if (!s.async_ledger) {
      s.config.log.error("metered::async_call on a ledger without async_lock: wrap it in tollgate::offloading_ledger");
      detail::write_error(res, 500, "Metering misconfigured: the ledger has no non-blocking form");
      s.answered(500);
      return std::move(done)();
    }
    std::optional<payer> asked = identify(s, req, res);
    if (!asked) return std::move(done)();
    auto pending = std::allocate_shared<pending_request>(detail::recycling_allocator<pending_request>{}, owner, req, res,
                                                         std::move(asked->who), asked->amount, std::move(resume), std::move(done));
    if (s.observed && s.observed->sample()) pending->asked_at = std::chrono::steady_clock::now();
    try {
      s.async_ledger->async_lock(pending->who.reveal(), pending->amount, s.lock_key(), [pending](result<lock_grant> grant) {
        if (pending->answered.exchange(true)) return;  // a ledger that both threw and answered: once only
        pending->grant.emplace(std::move(grant));
        std::move(pending->resume)([pending] { after_lock(*pending, std::move(*pending->grant)); });
      });
    } catch (const std::exception& e) {
      if (!pending->answered.exchange(true))  // a ledger that threw instead of answering
        after_lock(*pending, ledger_error{ledger_errc::unavailable, std::string("the ledger threw: ") + e.what()});
      else  // an inline answer whose continuation threw (the lock itself is settled by its charge)
        s.config.log.error("metered: serving a request failed after the ledger answered: {}", e.what());
    }
  }

  // Steps 3 to 5 once the ledger answered, on the request's executor.
  static void after_lock(pending_request& p, result<lock_grant> grant) {
    const state& s = *p.owner;
    const logger& log = s.config.log;
    if (s.observed) s.observed->async_lock_answered(p.asked_at, grant);
    if (!grant) {
      refuse(p.res, grant.error(), p.who, log);
      return std::move(p.done)();
    }
    std::shared_ptr<async_charge> held;
    try {
      held = std::allocate_shared<async_charge>(detail::recycling_allocator<async_charge>{}, s, p.req, p.res, std::move(p.who),
                                                std::move(grant->lock_id), p.amount);
    } catch (...) {  // out of memory before a settlement owned the lock: release it here
      async_settlement(*s.async_ledger, grant->lock_id, p.amount, p.who, log, s.config.on_settle_failure).settle(credits{});
      detail::write_error(p.res, 500, "Internal server error");
      s.answered(500);
      return std::move(p.done)();
    }
    held->keep_alive = p.owner;
    held->sampled = p.asked_at != std::chrono::steady_clock::time_point{};

    // 4. Serve. A throwing handler is refunded in full (the charge's destructor releases the lock);
    // there is no framework frame to rethrow into, so it is answered here.
    try {
      s.handler(p.req, p.res, held->ctx);
    } catch (const std::exception& e) {
      p.res.abandon_stream();
      log.error("lock {}: handler threw ({}); the hold is released in full", held->ctx.lock_id(), e.what());
      held.reset();
      detail::write_error(p.res, 500, "Internal server error");
      s.answered(500);
      return std::move(p.done)();
    } catch (...) {
      p.res.abandon_stream();
      log.error("lock {}: handler threw; the hold is released in full", held->ctx.lock_id());
      held.reset();
      detail::write_error(p.res, 500, "Internal server error");
      s.answered(500);
      return std::move(p.done)();
    }

    // 5. A streamed body is priced and settled when the stream ends; anything else now.
    held->streaming = true;
    if (p.res.observe_stream(held)) {
      s.served(false);
      return std::move(p.done)();
    }
    held->streaming = false;
    held->finished_once = true;
    held->stop_clock();
    held->ctx.record_response_bytes(p.req.method() == "HEAD" ? 0 : p.res.body_size());
    settle_actual(*held, /*can_withhold=*/true);  // may still answer 402 (overage::reject), so before done
    s.served(held->withheld);
    std::move(p.done)();
  }

  // Prices the request, applies the overage policy and settles the lock (on the non-blocking path,
  // asks the ledger to: its answer is reported by the async_settlement).
  template <bool Async>
  static void settle_actual(basic_charge<Async>& c, bool can_withhold) {
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
          c.withheld = true;
          c.guard.settle(credits{});
          return;
        }
        // A stream is already delivered: it cannot be withheld, so it is charged up to the hold.
        log.warn("lock {}: streamed cost {} above the estimate {}; charging the estimate", ctx.lock_id(), cost, amount);
        cost = amount;
      } else if constexpr (overage_policy::value == overage::mode::charge_actual && Async) {
        c.guard.settle_or(cost, amount);  // the same probe, as a chain of answers
        return;
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
    if constexpr (Async) {
      c.guard.settle(cost);
      return;
    } else if (auto outcome = c.guard.settle(cost); outcome && *outcome) {
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
        // The same words for every unknown credential (no user enumeration), and they name the usual
        // slip: a user added to the ledger without registering a credential for them.
        detail = "User not found: no user owns this credential (a user id is a credential only once registered as one)";
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

  // Builds the state only for a well-formed metered, and only around a handler it can call: after a
  // refusal, constructing the ledger reference or the invoker would add errors to the one message.
  // (Nested, not `&&`: naming check_handler would run it, and it would speak up too.)
  template <class Ledger, class Handler>
  static std::shared_ptr<const state> make_state(Ledger& ledger, Handler handler, Extractor extractor, Estimate estimate,
                                                 Calculator calculator, metered_config config) {
    if constexpr (!well_formed::value) {
      return nullptr;
    } else if constexpr (!detail::check_handler<Handler>()) {
      return nullptr;
    } else {
      std::optional<async_ledger_ref> async;
      if constexpr (async_ledger<Ledger>) async.emplace(ledger);
      // Metrics on: the route's calls go through an observed ledger in front of the real one.
      auto observed =
          metrics::observe_route(config.metrics, config.route, ledger, &status_policy::status_for, config.time_one_request_in);
      const ledger_ref used = observed ? ledger_ref(*observed) : ledger_ref(ledger);  // the non-blocking path reports itself
      return std::make_shared<const state>(state{used, std::move(extractor), std::move(estimate), std::move(calculator),
                                                 std::move(config), make_invoker(std::move(handler)), std::move(async),
                                                 !in_process_ledger<Ledger>, std::move(observed)});
    }
  }

  // `Handler` passed check_handler: one of the shapes below fits.
  template <class Handler>
  static handler_function make_invoker(Handler handler) {
    auto shared = std::make_shared<Handler>(std::move(handler));  // any handler, even move-only
    if constexpr (detail::has_single_signature<Handler>) {
      return typed_invoker(std::move(shared), typename detail::parameters_of<Handler>::type{});
    } else if constexpr (std::is_invocable_v<Handler&, const request_ref&, const response_ref&, metering_context&>) {
      return [shared](const request_ref& req, const response_ref& res, metering_context& ctx) { (*shared)(req, res, ctx); };
    } else {
      return [shared](const request_ref& req, const response_ref& res, metering_context&) { (*shared)(req, res); };
    }
  }

  template <class Handler, class RequestParam, class ResponseParam, class... Rest>
  static handler_function typed_invoker(std::shared_ptr<Handler> handler, detail::type_list<RequestParam, ResponseParam, Rest...>) {
    using Request = std::remove_cvref_t<RequestParam>;
    using Response = std::remove_cvref_t<ResponseParam>;
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

  std::shared_ptr<const state> state_;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_METERED_HPP
