// expect: plan<Name, \.\.\.> takes only tollgate::limit<\\?"name\\?", max> arguments after its name
// Must not compile: a table with two broken plans, used through tenant_overrides and check_limit.
// Only the first plan says why; the second, never reached by the checks, is never instantiated.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", int>, tollgate::plan<"", tollgate::limit<"deployments", 1>>>;

int main() {
  tollgate::tenant_overrides<table> overrides;
  overrides.set<"deployments">("org-42", 3);
  return tollgate::check_limit<table, "deployments">(table::default_limits(), 0).allowed ? 0 : 1;
}
