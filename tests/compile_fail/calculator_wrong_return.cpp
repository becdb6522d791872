// expect: a cost calculator must return tollgate::credits
// Costs are credits, never floating point.
#include <tollgate/tollgate.hpp>

struct float_calculator {
  double operator()(const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context&) const { return 1.5; }
};

static_assert(sizeof(tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>, float_calculator>) > 0);
