// expect: duplicate plan name
// Must not compile: two plans of one table are both called "free".
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<
    tollgate::plan<"free", tollgate::limit<"deployments", 1>>,
    tollgate::plan<"free", tollgate::limit<"deployments", 5>>>;

int main() { return static_cast<int>(table::plan_count); }
