// SPDX-License-Identifier: MIT
// A Lua script as Redis knows it: its source and the SHA-1 that EVALSHA names it by.
#ifndef TOLLGATE_REDIS_SCRIPT_HPP
#define TOLLGATE_REDIS_SCRIPT_HPP

#include <string>
#include <utility>

#include <tollgate/detail/digest.hpp>

namespace tollgate::redis {

/// Scripts are content-addressed: API servers running different tollgate versions each call their
/// own script on one Redis, with nothing to load or upgrade in place (unlike FUNCTION LOAD).
struct script {
  explicit script(std::string lua) : source(std::move(lua)), sha1(detail::sha1_hex(source)) {}
  std::string source;
  std::string sha1;
};

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_SCRIPT_HPP
