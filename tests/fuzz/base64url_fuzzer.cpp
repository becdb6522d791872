// Fuzzes jwt::base64url_decode on any text, and encode → decode on any bytes.
#include <cstddef>
#include <cstdint>

#include <tollgate/jwt/base64url.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = tollgate_fuzz::as_text(data, size);

  // Strict decoding: a text that decodes is the one spelling of its bytes.
  if (const auto decoded = tollgate::jwt::base64url_decode(input)) {
    TOLLGATE_FUZZ_CHECK(decoded->size() == input.size() * 3 / 4);
    TOLLGATE_FUZZ_CHECK(tollgate::jwt::base64url_encode(*decoded) == input);
  }

  // Any bytes survive encode → decode, in the alphabet and without padding.
  const auto encoded = tollgate::jwt::base64url_encode(input);
  TOLLGATE_FUZZ_CHECK(encoded.size() == (input.size() * 4 + 2) / 3);
  TOLLGATE_FUZZ_CHECK(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                      std::string::npos);
  const auto round_trip = tollgate::jwt::base64url_decode(encoded);
  TOLLGATE_FUZZ_CHECK(round_trip.has_value());
  TOLLGATE_FUZZ_CHECK(*round_trip == input);
  return 0;
}
