// expect: the handler must take \(const Request&, Response&\)
// A handler of the wrong shape is diagnosed by metered, in words.
#include <tollgate/tollgate.hpp>

void use(tollgate::memory_ledger& ledger) {
  tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>> m{ledger, [](int) {}};
}
