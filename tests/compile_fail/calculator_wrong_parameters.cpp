// expect: this cost calculator is not callable as `calc\(const request_ref&, const response_ref&, const metering_context&\) const`
// A calculator that only looks at the request: named as not callable, with no second error about its result.
#include <tollgate/tollgate.hpp>

struct request_only_calculator {
  tollgate::credits operator()(const tollgate::request_ref&) const { return tollgate::credits{1}; }
};

void use(tollgate::memory_ledger& ledger) {
  tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>, request_only_calculator> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
}
