// expect: a soft limit must be a count
// Must not compile: an unlimited soft limit has nothing to go over.
#include <tollgate/plans.hpp>

using namespace tollgate::literals;
using table = tollgate::plan_table<
    tollgate::plan<"pro", tollgate::soft_limit<"deployments", tollgate::unlimited, tollgate::overage_price<1.0_cr>>>>;

int main() { return static_cast<int>(table::plan_count); }
