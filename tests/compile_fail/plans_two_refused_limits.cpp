// expect: a limit's name must not be empty
// Must not compile: a plan with two broken limits. Only the first says why: the plan stops
// checking there, and the second is never instantiated.
#include <tollgate/plans.hpp>

using bad = tollgate::plan<"free", tollgate::limit<"", 1>, tollgate::limit<"self_hosted_workers", -1>>;

int main() { return static_cast<int>(bad::limit_count) + static_cast<int>(bad::max_of("self_hosted_workers").max()); }
