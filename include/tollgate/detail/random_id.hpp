// SPDX-License-Identifier: MIT
// Ids tollgate makes: unpredictable ones (random_id) and cheap per-request idempotency keys (request_key).
#ifndef TOLLGATE_DETAIL_RANDOM_ID_HPP
#define TOLLGATE_DETAIL_RANDOM_ID_HPP

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/rand.h>

namespace tollgate::detail {

/// `count` bytes from OpenSSL's CSPRNG (the library the log redaction already needs; <random> would
/// cost every TU that meters a route its parse time for a worse generator).
inline void random_bytes(unsigned char* out, int count) {
  if (RAND_bytes(out, count) != 1) throw std::runtime_error("tollgate: no randomness for an id (OpenSSL RAND_bytes failed)");
}

/// `prefix` followed by 32 hex digits (128 bits) from OpenSSL's CSPRNG: unique and unguessable.
[[nodiscard]] inline std::string random_id(std::string_view prefix) {
  static constexpr char hex[] = "0123456789abcdef";
  unsigned char bits[16];
  random_bytes(bits, sizeof bits);
  std::string out(prefix);
  out.reserve(prefix.size() + 32);
  for (const unsigned char byte : bits) {
    out.push_back(hex[byte >> 4]);
    out.push_back(hex[byte & 0xF]);
  }
  return out;
}

/// A key unique to this request among every key this process makes: "rq", 8 characters drawn at
/// random once per thread (48 bits), and a per-thread counter in 5 more. 15 characters fit
/// std::string's inline buffer, so making one allocates nothing; unlike random_id it is
/// predictable, which is fine for a key the server makes for itself and never trusts from outside.
[[nodiscard]] inline std::string request_key() {
  static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  struct thread_keys {
    char prefix[8];
    std::uint32_t next = 0;
    void draw() {
      unsigned char bytes[8];
      random_bytes(bytes, sizeof bytes);
      std::uint64_t bits = 0;
      for (const unsigned char byte : bytes) bits = (bits << 8) | byte;
      for (char& c : prefix) { c = digits[bits & 63]; bits >>= 6; }
      next = 0;
    }
  };
  thread_local thread_keys keys = [] { thread_keys k; k.draw(); return k; }();
  if (keys.next >= (1u << 30)) keys.draw();  // 5 digits of 6 bits: a new prefix every 2^30 keys
  std::uint32_t n = keys.next++;
  std::string out(15, 'r');
  out[1] = 'q';
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(2 + i)] = keys.prefix[i];
  for (int i = 14; i >= 10; --i, n >>= 6) out[static_cast<std::size_t>(i)] = digits[n & 63];
  return out;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_RANDOM_ID_HPP
