// expect: plan<Name, \.\.\.> takes only tollgate::limit<\\?"name\\?", max> arguments after its name
// Must not compile: tenant_overrides over a refused table. Only the table's message appears: its
// names prove nothing, so set<"deployments"> does not add "unknown limit name", nor does any other use.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", int>>;

int main() {
  tollgate::tenant_overrides<table> overrides;
  overrides.set<"deployments">("org-42", 3);
  (void)overrides.set("org-42", "deployments", 3);
  const auto limits = overrides.apply("org-42", table::default_limits());
  overrides.erase("org-42");
  return static_cast<int>(limits.entries().size());
}
