// expect: missing limit
// Must not compile: "growth" lacks the self_hosted_workers limit that "free" declares.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<
    tollgate::plan<"free", tollgate::limit<"deployments", 1>, tollgate::limit<"self_hosted_workers", 5>>,
    tollgate::plan<"growth", tollgate::limit<"deployments", 5>>>;

int main() { return static_cast<int>(table::plan_count); }
