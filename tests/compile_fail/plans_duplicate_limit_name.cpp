// expect: a plan declares the same limit name twice
// Must not compile: one plan declares "deployments" twice. The plan says so once; the table adds nothing.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", tollgate::limit<"deployments", 1>, tollgate::limit<"deployments", 2>>>;

int main() { return static_cast<int>(table::plan_count + table::limit_count); }
