// SPDX-License-Identifier: MIT
// A Lua script as Redis knows it: its source and the SHA-1 that EVALSHA names it by.
#ifndef TOLLGATE_REDIS_SCRIPT_HPP
#define TOLLGATE_REDIS_SCRIPT_HPP

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tollgate/detail/digest.hpp>

namespace tollgate::redis {

/// Scripts are content-addressed: API servers running different tollgate versions each call their
/// own script on one Redis, with nothing to load or upgrade in place (unlike FUNCTION LOAD).
struct script {
  explicit script(std::string lua) : source(std::move(lua)), sha1(detail::sha1_hex(source)) {}
  std::string source;
  std::string sha1;
};

/// The words of a call of `s`: `EVALSHA sha1 n keys... args...`, or `EVAL source n ...` when
/// `with_source` (after Redis answered NOSCRIPT: EVAL also caches the script there). `key_count`
/// is `keys.size()` in decimal; the views point into the arguments, which must outlive them.
[[nodiscard]] inline std::vector<std::string_view> script_command(const script& s, std::string_view key_count,
                                                                  std::span<const std::string_view> keys,
                                                                  std::span<const std::string_view> args, bool with_source) {
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  // push_back, not insert of an initializer list: g++ 12 -O3 misreads that as an overflow (-Wstringop-overflow).
  argv.push_back(with_source ? "EVAL" : "EVALSHA");
  argv.push_back(with_source ? s.source : s.sha1);
  argv.push_back(key_count);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

/// Whether an error reply says Redis does not have the script (its cache was flushed, or a new Redis).
[[nodiscard]] constexpr bool is_noscript(std::string_view error_text) noexcept { return error_text.starts_with("NOSCRIPT"); }

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_SCRIPT_HPP
