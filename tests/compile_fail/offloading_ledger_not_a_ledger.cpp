// expect: this ledger is missing `settle\(lock_id, real_cost\)`
// offloading_ledger adapts a blocking ledger: a type that is not one is named, once.
#include <tollgate/ledgers/offloading_ledger.hpp>

struct half_ledger {
  using ledger_concept = tollgate::ledger_t;
  tollgate::result<tollgate::lock_grant> lock(std::string_view, tollgate::credits, std::string_view);
};

void use(half_ledger& inner) { tollgate::offloading_ledger<half_ledger> offloaded(inner); }
