// expect: missing `settle\(lock_id, real_cost\)`
// A ledger without settle() must be refused with a message naming the missing member.
#include <tollgate/tollgate.hpp>

struct half_ledger {
  using ledger_concept = tollgate::ledger_t;
  tollgate::result<tollgate::lock_grant> lock(std::string_view, tollgate::credits, std::string_view);
  tollgate::result<tollgate::settlement> release(std::string_view);
  bool health();
};

void use(half_ledger& l) { tollgate::ledger_ref ref(l); }
