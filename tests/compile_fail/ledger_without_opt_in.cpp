// expect: does not opt in: add `using ledger_concept = tollgate::ledger_t;`
// A type with the right members but no opt-in tag is not a ledger by accident.
#include <tollgate/tollgate.hpp>

struct lookalike {
  tollgate::result<tollgate::lock_grant> lock(std::string_view, tollgate::credits, std::string_view);
  tollgate::result<tollgate::settlement> settle(std::string_view, tollgate::credits);
  tollgate::result<tollgate::settlement> release(std::string_view);
  bool health();
};

void use(lookalike& l) { tollgate::ledger_ref ref(l); }
