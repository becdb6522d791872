// expect: plan<Name, \.\.\.> takes only tollgate::limit<\\?"name\\?", max> arguments after its name
// Must not compile: a plan on its own, outside any plan_table, given a plain type where a limit
// belongs. The plan says so once; reading its members adds nothing.
#include <tollgate/plans.hpp>

using bad = tollgate::plan<"x", int>;

int main() { return static_cast<int>(bad::limit_count + bad::limit_names.size()) + static_cast<int>(bad::max_of("a").max()); }
