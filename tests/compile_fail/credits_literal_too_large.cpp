// expect: credits_literal_is_too_large
// A literal beyond the int64 micro-credit range would wrap: refused at compile time.
#include <tollgate/credits.hpp>

using namespace tollgate::literals;
constexpr auto too_large = 9223372036855_cr;
