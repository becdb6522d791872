// Tests of the estimate policies: the constant estimate and an estimate computed from the request.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;

namespace {
// Prices a request by a JSON field: max_tokens × 0.000002 credits, at least 0.01.
struct by_max_tokens {
  tollgate::credits operator()(const tollgate::request_ref& r) const {
    const auto body = nlohmann::json::parse(r.body(), nullptr, false);
    if (!body.is_object() || !body.contains("max_tokens") || !body["max_tokens"].is_number_unsigned())
      throw tollgate::bad_request("max_tokens (a positive integer) is required");
    return std::max(0.01_cr, (0.000002_cr) * body["max_tokens"].get<std::int64_t>());
  }
};
}  // namespace

TEST_CASE("estimates: estimate<Amount> is constant") {
  const tollgate::basic_request r;
  CHECK(tollgate::estimate<5.0_cr>{}(r) == 5_cr);
  static_assert(tollgate::estimate_policy<tollgate::estimate<1_cr>>);
}

TEST_CASE("estimates: any callable computes one from the request") {
  static_assert(tollgate::estimate_policy<by_max_tokens>);
  by_max_tokens e;
  CHECK(e(tollgate::basic_request{}.with_body(R"({"max_tokens": 4000})")) == 0.01_cr);  // 0.008 is below the floor
  CHECK(e(tollgate::basic_request{}.with_body(R"({"max_tokens": 100000})")) == 0.2_cr);
  CHECK_THROWS_AS(e(tollgate::basic_request{}.with_body("{}")), tollgate::bad_request);
}
