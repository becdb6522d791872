// expect: an overage_price must not be negative
// Must not compile: a negative overage price would pay tenants for going over their plan.
#include <tollgate/plans.hpp>

using namespace tollgate::literals;
using table = tollgate::plan_table<tollgate::plan<"pro", tollgate::soft_limit<"deployments", 5, tollgate::overage_price<-(2.0_cr)>>>>;

int main() { return static_cast<int>(table::plan_count); }
