// HMAC-SHA256 test vectors computed by python3's hmac module in a child process, never by the code under test.
#ifndef TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP
#define TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP

#include <string>
#include <string_view>
#include <vector>

#include "support/child_process.hpp"

namespace tollgate::testing {

/// Lower-case hex, written here rather than taken from tollgate (which is under test).
inline std::string hex_of(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 0xF];
  }
  return out;
}

/// hex(HMAC-SHA256(key, message)) as `python3 -c 'import hmac …'` computes it. Key and message go
/// to python hex-encoded on its command line, so any bytes survive; the key never reaches a log.
inline std::string python_hmac_sha256_hex(std::string_view key, std::string_view message) {
  child_process python({"/usr/bin/python3", "-c",
                        "import hmac, hashlib, sys; "
                        "print(hmac.new(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), hashlib.sha256).hexdigest())",
                        hex_of(key), hex_of(message)});
  std::string line = python.read_line();
  python.wait_exit();
  return line;
}

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP
