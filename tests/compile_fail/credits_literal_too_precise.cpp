// expect: credits_literal_must_be_a_plain_decimal_with_at_most_6_decimals
// A literal finer than a micro-credit would silently lose money: refused at compile time.
#include <tollgate/credits.hpp>

using namespace tollgate::literals;
constexpr auto too_fine = 0.0000001_cr;
