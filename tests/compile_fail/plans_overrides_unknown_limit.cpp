// expect: unknown limit name
// Must not compile: an override of a limit the default table does not declare.
#include <tollgate/plans.hpp>

int main() {
  tollgate::tenant_overrides<tollgate::default_plans> overrides;
  overrides.set<"seats">("org-42", 3);
}
