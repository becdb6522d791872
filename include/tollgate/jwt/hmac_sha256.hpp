// SPDX-License-Identifier: MIT
// HMAC-SHA256 and a constant-time comparison for JWTs: OpenSSL's, through tollgate/detail/hmac_sha256.hpp.
#ifndef TOLLGATE_JWT_HMAC_SHA256_HPP
#define TOLLGATE_JWT_HMAC_SHA256_HPP

#include <tollgate/detail/hmac_sha256.hpp>

namespace tollgate::jwt {

using ::tollgate::detail::constant_time_equal;
using ::tollgate::detail::hmac_sha256;

}  // namespace tollgate::jwt

#endif  // TOLLGATE_JWT_HMAC_SHA256_HPP
