// expect: plan<Name, \.\.\.> takes only tollgate::limit<\\?"name\\?", max> arguments after its name
// Must not compile: check_limit through a refused table. Only the table's message appears: its names
// prove nothing, so check_limit does not add "unknown limit name" for "deployments".
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", tollgate::limit<"deployments", 1>, int>>;

int main() {
  const auto limits = table::default_limits();
  return tollgate::check_limit<table, "deployments">(limits, /*usage=*/0).allowed ? 0 : 1;
}
