// expect: plan_table<\.\.\.> takes only tollgate::plan<\.\.\.> or tollgate::as_default<plan<\.\.\.>> arguments
// Must not compile: a table whose second entry is not a plan and whose first is a plan named "".
// The table stops at its first broken rule; the plan it never checked is never instantiated.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"", tollgate::limit<"deployments", 1>>, int>;

int main() { return static_cast<int>(table::plan_count + table::limit_count) + static_cast<int>(table::default_limits().entries().size()); }
