// base64url: RFC 4648 test vectors and strict decoding (one spelling per byte string).
#include <tollgate/jwt/base64url.hpp>

#include <string>

#include <doctest/doctest.h>

using tollgate::jwt::base64url_decode;
using tollgate::jwt::base64url_encode;

TEST_CASE("base64url: RFC 4648 vectors, unpadded") {
  CHECK(base64url_encode("") == "");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_encode("foo") == "Zm9v");
  CHECK(base64url_encode("foob") == "Zm9vYg");
  CHECK(base64url_encode("fooba") == "Zm9vYmE");
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_decode("Zm9vYmE") == "fooba");
  CHECK(base64url_decode("") == "");
}

TEST_CASE("base64url: the URL-safe alphabet, - and _ instead of + and /") {
  const std::string bytes("\xfb\xff\xbf", 3);
  CHECK(base64url_encode(bytes) == "-_-_");
  CHECK(base64url_decode("-_-_") == bytes);
  CHECK_FALSE(base64url_decode("+/+/"));
}

TEST_CASE("base64url: strict decoding refuses padding, whitespace, bad lengths and stray bits") {
  CHECK_FALSE(base64url_decode("Zg=="));   // padding
  CHECK_FALSE(base64url_decode("Zm9v "));  // whitespace
  CHECK_FALSE(base64url_decode("Zm 9v"));
  CHECK_FALSE(base64url_decode("Zm9vY"));  // 5 characters: no byte string has that length
  CHECK_FALSE(base64url_decode("Zh"));     // "Zg" with non-zero leftover bits: a second spelling of "f"
  CHECK_FALSE(base64url_decode("Zm9"));    // "Zm8" with a stray bit
  CHECK_FALSE(base64url_decode("Zm.v"));
  CHECK(base64url_decode("Zm8") == "fo");
}

TEST_CASE("base64url: every byte value round-trips") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) CHECK(base64url_decode(base64url_encode(all.substr(0, n))) == all.substr(0, n));
  CHECK(base64url_decode(base64url_encode(all)) == all);
}
