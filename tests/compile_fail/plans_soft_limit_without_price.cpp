// expect: a soft_limit needs exactly one overage_price<\.\.\.>
// Must not compile: a soft limit that says nothing about what going over it costs.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"pro", tollgate::soft_limit<"deployments", 5, tollgate::hard<10>>>>;

int main() { return static_cast<int>(table::plan_count); }
