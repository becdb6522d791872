// expect: this estimate is not callable as `estimate\(const tollgate::request_ref&\) const`
// An estimate is asked before the handler runs; a plain value type cannot be asked.
#include <tollgate/tollgate.hpp>

struct price_sheet {
  tollgate::credits amount{1};
};

void use(tollgate::memory_ledger& ledger) {
  tollgate::metered<tollgate::from_header<"X">, price_sheet> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
}
