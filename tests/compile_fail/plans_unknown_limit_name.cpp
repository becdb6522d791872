// expect: unknown limit name
// Must not compile: the default table has no limit called "seats".
#include <tollgate/plans.hpp>

int main() { return static_cast<int>(tollgate::default_plans::limit_of<"free", "seats">().max()); }
