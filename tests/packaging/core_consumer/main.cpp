// A downstream program that meters with the core only (no JSON, no HTTP library).
#include <tollgate/tollgate.hpp>

int main() {
  using namespace tollgate::literals;
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 1_cr);
  ledger.add_credential("u", "u");
  auto grant = ledger.lock("u", 0.5_cr, "k");
  return grant && ledger.settle(grant->lock_id, 0.25_cr) && ledger.balance("u") == 0.75_cr ? 0 : 1;
}
