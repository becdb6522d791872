// Fuzzes the id extractors (from_body above all) over fuzzed headers, query and body of a basic_request.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <tollgate/extractors/first_of.hpp>
#include <tollgate/extractors/from_bearer.hpp>
#include <tollgate/extractors/from_body.hpp>
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/extractors/from_jwt.hpp>
#include <tollgate/extractors/from_query.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/jwt/verifier.hpp>

#include "fuzz_support.hpp"

namespace {

void check_id(const std::optional<std::string>& id) {
  if (id) TOLLGATE_FUZZ_CHECK(!id->empty());
}

}  // namespace

// The input is "authorization\nx-user-id\nquery user_id\nbody" (missing parts are absent).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = tollgate_fuzz::split(tollgate_fuzz::as_text(data, size), '\n', 4);
  tollgate::basic_request r;
  if (parts.size() == 1) {
    r.with_body(std::string(parts[0]));  // a lone part is a body: the corpus of JSON bodies stays plain
  } else {
    r.with_header("Authorization", std::string(parts[0]));
    if (parts.size() > 1) r.with_header("X-User-ID", std::string(parts[1]));
    if (parts.size() > 2) r.with_query("user_id", std::string(parts[2]));
    if (parts.size() > 3) r.with_body(std::string(parts[3]));
  }
  const tollgate::request_ref ref(r);

  const auto body = tollgate::from_body<"user_id">{}.extract(ref);
  check_id(body);
  const auto header = tollgate::from_header<"X-User-ID">{}.extract(ref);
  check_id(header);
  const auto query = tollgate::from_query<"user_id">{}.extract(ref);
  check_id(query);
  const auto bearer = tollgate::from_bearer{}.extract(ref);
  check_id(bearer);

  static const tollgate::from_jwt<"sub"> by_subject{tollgate::jwt::verifier{
      tollgate::redacted{"fuzz-secret"}, tollgate::jwt::verify_options{.now = [] { return std::int64_t{1'700'000'000}; }}}};
  check_id(by_subject.extract(ref));

  // first_of answers the first extractor that finds an id.
  const auto first = tollgate::first_of<tollgate::from_header<"X-User-ID">, tollgate::from_query<"user_id">,
                                        tollgate::from_body<"user_id">>{}.extract(ref);
  TOLLGATE_FUZZ_CHECK(first == (header ? header : query ? query : body));
  return 0;
}
