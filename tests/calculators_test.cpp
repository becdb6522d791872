// Tests of the cost calculators: fixed, by size, by time, per token, sums and penalties.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <type_traits>

#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;
using tollgate::credits;

namespace {
struct fixture {
  tollgate::basic_request req;
  tollgate::basic_response res;
  tollgate::metering_context ctx{tollgate::redacted("user"), "lk_1", 10_cr};

  template <class C>
  credits cost(const C& c) { return c(tollgate::request_ref(req), tollgate::response_ref(res), ctx); }
};
}  // namespace

TEST_CASE("calculators: fixed_cost charges its amount") {
  fixture f;
  CHECK(f.cost(tollgate::fixed_cost<2.5_cr>{}) == 2.5_cr);
  static_assert(tollgate::cost_calculator<tollgate::fixed_cost<1_cr>>);
}

TEST_CASE("calculators: charge_estimate charges what was locked") {
  fixture f;
  CHECK(f.cost(tollgate::charge_estimate{}) == 10_cr);
}

TEST_CASE("calculators: by_response_size prices the bytes sent, KB = 1024") {
  fixture f;
  tollgate::by_response_size<0.5_cr, 0.1_cr> calc;
  f.ctx.record_response_bytes(0);
  CHECK(f.cost(calc) == 0.5_cr);
  f.ctx.record_response_bytes(1024);
  CHECK(f.cost(calc) == 0.6_cr);
  f.ctx.record_response_bytes(1011);  // 0.1 × 1011/1024 = 0.098730 (rounded from 0.0987304…)
  CHECK(f.cost(calc) == 0.59873_cr);
  f.ctx.record_response_bytes(10 * 1024 * 1024);
  CHECK(f.cost(calc) == 1024.5_cr);
}

TEST_CASE("calculators: by_processing_time prices the measured duration") {
  fixture f;
  tollgate::by_processing_time<1.0_cr, 2.0_cr> calc;
  f.ctx.record_elapsed(std::chrono::milliseconds(500));
  CHECK(f.cost(calc) == 2_cr);
  f.ctx.record_elapsed(std::chrono::nanoseconds(1'234'567'891));
  CHECK(f.cost(calc) == 3.469136_cr);  // 1 + 2 × 1.234567891 = 3.469135782 → 3.469136
}

TEST_CASE("calculators: per_token prices reported usage per million tokens") {
  fixture f;
  tollgate::per_token<0.15_cr, 0.45_cr, 0.05_cr> calc;
  CHECK(f.cost(calc) == credits{});  // nothing reported, nothing charged
  f.ctx.report_usage({.prompt_tokens = 1'000'000, .completion_tokens = 2'000'000});
  f.ctx.report_usage({.searches = 2});
  CHECK(f.cost(calc) == 0.15_cr + 0.9_cr + 0.1_cr);
  fixture g;
  g.ctx.report_usage({.prompt_tokens = 120, .completion_tokens = 480});  // 0.000018 + 0.000216
  CHECK(g.cost(calc) == 0.000234_cr);
}

TEST_CASE("calculators: sum adds its parts; penalty_on_error adds on failures") {
  fixture f;
  tollgate::sum<tollgate::fixed_cost<1_cr>, tollgate::by_response_size<0_cr, 1_cr>, tollgate::penalty_on_error<0.5_cr>> calc;
  f.ctx.record_response_bytes(512);
  CHECK(f.cost(calc) == 1.5_cr);
  f.res.set_status(404);
  CHECK(f.cost(calc) == 2_cr);
  f.res.set_status(399);
  CHECK(f.cost(calc) == 1.5_cr);
}

TEST_CASE("calculators: any callable of the right shape is a calculator") {
  auto lambda = [](const tollgate::request_ref& r, const tollgate::response_ref&, const tollgate::metering_context&) {
    return r.header("X-Premium") ? 3_cr : 1_cr;
  };
  static_assert(tollgate::cost_calculator<decltype(lambda)>);
  fixture f;
  CHECK(f.cost(lambda) == 1_cr);
  f.req.with_header("X-Premium", "1");
  CHECK(f.cost(lambda) == 3_cr);
}

TEST_CASE("calculators: an amount that overflows throws amount_overflow (metered then charges the estimate)") {
  fixture f;
  tollgate::per_token<0.15_cr, 0.45_cr, 0.000002_cr> calc;
  f.ctx.report_usage({.searches = INT64_MAX / 2 + 1});  // 0.000002_cr × n: used to wrap silently
  CHECK_THROWS_AS((void)f.cost(calc), tollgate::amount_overflow);
  fixture g;
  g.ctx.report_usage({.prompt_tokens = INT64_MAX});
  g.ctx.report_usage({.prompt_tokens = INT64_MAX});  // usage saturates instead of overflowing
  CHECK(g.ctx.usage().prompt_tokens == INT64_MAX);
  CHECK(g.cost(tollgate::per_token<0.000001_cr, 0_cr>{}) == credits::from_micros(9'223'372'036'855));
  CHECK_THROWS_AS((void)g.cost(tollgate::per_token<2_cr, 0_cr>{}), tollgate::amount_overflow);  // 2 per token × 2^63
  fixture h;
  h.ctx.record_response_bytes(std::size_t{1} << 62);
  CHECK_THROWS_AS((void)h.cost(tollgate::by_response_size<0_cr, 100_cr>{}), tollgate::amount_overflow);
  CHECK_THROWS_AS((void)h.cost(tollgate::sum<tollgate::fixed_cost<9223372036854_cr>, tollgate::fixed_cost<1_cr>>{}),
                  tollgate::amount_overflow);
  static_assert(std::is_base_of_v<std::exception, tollgate::amount_overflow>, "metered catches std::exception");
}

// metered reads the clock around the handler only for a calculator that may read ctx.elapsed().
static_assert(!tollgate::calculator_reads_elapsed<tollgate::fixed_cost<1_cr>>);
static_assert(!tollgate::calculator_reads_elapsed<tollgate::charge_estimate>);
static_assert(!tollgate::calculator_reads_elapsed<tollgate::by_response_size<0_cr, 1_cr>>);
static_assert(!tollgate::calculator_reads_elapsed<tollgate::per_token<1_cr, 1_cr>>);
static_assert(tollgate::calculator_reads_elapsed<tollgate::by_processing_time<0_cr, 1_cr>>);
static_assert(!tollgate::calculator_reads_elapsed<tollgate::sum<tollgate::fixed_cost<1_cr>, tollgate::penalty_on_error<1_cr>>>);
static_assert(tollgate::calculator_reads_elapsed<tollgate::sum<tollgate::fixed_cost<1_cr>, tollgate::by_processing_time<0_cr, 1_cr>>>);

namespace {
// A calculator that says nothing about elapsed(): metered must assume it reads it.
struct time_reader {
  credits operator()(const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context& ctx) const {
    return ctx.elapsed() >= std::chrono::milliseconds(20) ? 2_cr : 1_cr;
  }
};
}  // namespace
static_assert(tollgate::calculator_reads_elapsed<time_reader>);

TEST_CASE("calculators: metered times the handler for a calculator that reads elapsed(), declared or not") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 10_cr);
  ledger.add_credential("u", "u");
  const auto slow = [](const tollgate::request_ref&, const tollgate::response_ref&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  };
  tollgate::basic_request req;
  req.with_method("GET").with_path("/x").with_header("X-User-ID", "u");
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<3_cr>, time_reader> undeclared{ledger, slow};
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<3_cr>, tollgate::by_processing_time<0_cr, 40_cr>> declared{ledger, slow};
  tollgate::basic_response a, b;
  undeclared(req, a);
  CHECK(ledger.balance("u") == 8_cr);  // charged 2: it saw at least 20 ms
  declared(req, b);
  const auto charged = 8_cr - *ledger.balance("u");
  CHECK(charged >= 1_cr);  // 40 credits a second × at least 25 ms
  CHECK(charged <= 3_cr);  // never above the estimate (clamped)
}
