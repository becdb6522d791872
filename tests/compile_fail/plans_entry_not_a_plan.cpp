// expect: plan_table<\.\.\.> takes only tollgate::plan<\.\.\.> or tollgate::as_default<plan<\.\.\.>> arguments
// Must not compile: a limit given where a plan belongs.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", tollgate::limit<"deployments", 1>>, tollgate::limit<"deployments", 5>>;

int main() { return static_cast<int>(table::limit_of<"free", "deployments">().max()); }
