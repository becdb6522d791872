// expect: plan<Name, \.\.\.> takes only tollgate::limit<\\?"name\\?", max> arguments after its name
// Must not compile: a plan given a plain type where a limit belongs; the table says so once.
// (clang prints the quotes inside a static_assert message escaped, hence the optional backslashes.)
#include <tollgate/plans.hpp>

using table = tollgate::plan_table<tollgate::plan<"free", int>>;

int main() { return static_cast<int>(table::plan_count); }
