// expect: unknown plan name
// Must not compile: the default table has no plan called "pro".
#include <tollgate/plans.hpp>

int main() { return static_cast<int>(tollgate::default_plans::limit_of<"pro", "deployments">().max()); }
