// expect: a plan's name must not be empty
// Must not compile: a plan of a table named "". The plan says so once; the table adds nothing.
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"", tollgate::limit<"deployments", 1>>>;

int main() { return static_cast<int>(table::plan_count + table::limit_count); }
