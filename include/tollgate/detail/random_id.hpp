// Unpredictable ids for locks and idempotency keys: 128 random bits as 32 hex digits.
#ifndef TOLLGATE_DETAIL_RANDOM_ID_HPP
#define TOLLGATE_DETAIL_RANDOM_ID_HPP

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace tollgate::detail {

/// `prefix` followed by 32 hex digits from a per-thread generator seeded by std::random_device.
/// Unique and unguessable enough for ids; not a cryptographic token.
[[nodiscard]] inline std::string random_id(std::string_view prefix) {
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(prefix);
  out.reserve(prefix.size() + 32);
  for (int word = 0; word < 2; ++word) {
    std::uint64_t bits = generator();
    for (int k = 0; k < 16; ++k) { out.push_back(hex[bits & 0xF]); bits >>= 4; }
  }
  return out;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_RANDOM_ID_HPP
