// expect: a soft_limit's hard<\.\.\.> ceiling is below its soft limit
// Must not compile: a ceiling of 3 under a soft limit of 5 could never let the overage happen.
#include <tollgate/plans.hpp>

using namespace tollgate::literals;
using table = tollgate::plan_table<tollgate::plan<
    "pro", tollgate::soft_limit<"deployments", 5, tollgate::overage_price<2.0_cr>, tollgate::hard<3>>>>;

int main() { return static_cast<int>(table::plan_count); }
