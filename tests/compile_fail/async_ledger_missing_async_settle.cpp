// expect: this async ledger is missing `async_settle\(lock_id, real_cost, handler\)`
// An async ledger without async_settle, given to the conformance harness: one message naming it.
#include <tollgate/testing/awaiting_ledger.hpp>

struct half_async_ledger {
  using async_ledger_concept = tollgate::async_ledger_t;
  template <class Handler>
  void async_lock(std::string_view, tollgate::credits, std::string_view, Handler&&);
};

void use(half_async_ledger& inner) { tollgate::testing::awaiting_ledger<half_async_ledger> blocking(inner); }
