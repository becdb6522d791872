// expect: a handler's third parameter, if any, must be tollgate::metering_context&
// The request and response are right; the third parameter is not the metering context.
#include <tollgate/tollgate.hpp>

void use(tollgate::memory_ledger& ledger) {
  tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&, int) {}};
}
