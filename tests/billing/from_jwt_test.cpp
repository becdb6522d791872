// from_jwt<"sub">: a user id from a verified token's claim, never from an unverified one.
#include <tollgate/extractors/from_jwt.hpp>
#include <tollgate/jwt/sign.hpp>

#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace {
using nlohmann::json;
const tollgate::redacted secret{"metering-secret"};

tollgate::from_jwt<"sub"> by_subject() {
  tollgate::jwt::verify_options options;
  options.audience = "api";
  options.version = std::nullopt;
  return tollgate::from_jwt<"sub">{tollgate::jwt::verifier{secret, options}};
}
tollgate::basic_request bearer(const std::string& token) {
  tollgate::basic_request r;
  r.with_header("Authorization", "Bearer " + token);
  return r;
}
}  // namespace

static_assert(tollgate::extractor<tollgate::from_jwt<"sub">>);
static_assert(tollgate::detail::check_extractor<tollgate::from_jwt<"org">>());

TEST_CASE("from_jwt: a verified token's string claim is the id") {
  const auto token = tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", "user-7"}}, secret);
  CHECK(by_subject().extract(bearer(token)) == "user-7");
}

TEST_CASE("from_jwt: an integer claim is written in decimal; other kinds give no id") {
  CHECK(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", 42}}, secret))) == "42");
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", json::array()}}, secret))));
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", ""}}, secret))));
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}}, secret))));
}

TEST_CASE("from_jwt: never decodes without verifying") {
  // Right shape, wrong key: the claim must not leak through.
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", "mallory"}}, "guess"))));
  // alg none with the claim in clear.
  const auto none = tollgate::jwt::base64url_encode(R"({"alg":"none"})") + "." +
                    tollgate::jwt::base64url_encode(R"({"aud":"api","sub":"mallory"})") + ".";
  CHECK_FALSE(by_subject().extract(bearer(none)));
  // Expired.
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", "u"}, {"exp", 1}}, secret))));
  // Wrong audience.
  CHECK_FALSE(by_subject().extract(bearer(tollgate::jwt::sign_hs256({{"aud", "worker"}, {"sub", "u"}}, secret))));
}

TEST_CASE("from_jwt: no Authorization, another scheme or a malformed header give no id") {
  tollgate::basic_request none;
  CHECK_FALSE(by_subject().extract(none));
  const auto token = tollgate::jwt::sign_hs256({{"aud", "api"}, {"sub", "u"}}, secret);
  tollgate::basic_request basic;
  basic.with_header("Authorization", "Basic " + token);
  CHECK_FALSE(by_subject().extract(basic));
  tollgate::basic_request three;
  three.with_header("Authorization", "Bearer " + token + " extra");
  CHECK_FALSE(by_subject().extract(three));
  tollgate::basic_request lower;
  lower.with_header("authorization", "bEaReR   " + token);
  CHECK(by_subject().extract(lower) == "u");
}

TEST_CASE("from_jwt: source names the claim, not a value") {
  CHECK(by_subject().source() == "the 'sub' claim of a valid 'Authorization: Bearer <JWT>' header");
}
