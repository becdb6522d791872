// HMAC-SHA256 test vectors computed by python3's hmac module in a child process, never by the code under test.
#ifndef TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP
#define TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

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

/// hex(HMAC-SHA256(key, message)) as `python3 -c 'import hmac …'` computes it. The key goes to python
/// hex-encoded on its command line, the message through a temporary file (any size, any bytes).
inline std::string python_hmac_sha256_hex(std::string_view key, std::string_view message) {
  char path[] = "/tmp/tollgate_hmac_message_XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  for (std::size_t done = 0; done < message.size();) {
    const auto n = ::write(fd, message.data() + done, message.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(path);
      throw std::runtime_error("write failed");
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::string line;
  {
    child_process python({"/usr/bin/python3", "-c",
                          "import hmac, hashlib, sys; "
                          "print(hmac.new(bytes.fromhex(sys.argv[1]), open(sys.argv[2], 'rb').read(), hashlib.sha256).hexdigest())",
                          hex_of(key), path});
    line = python.read_line();
    python.wait_exit();
  }
  ::unlink(path);
  return line;
}

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_BILLING_INDEPENDENT_HMAC_HPP
