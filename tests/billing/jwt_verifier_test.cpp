// jwt::verifier: every reason of the contract's token table, in the contract's order, plus alg confusion.
#include <tollgate/jwt.hpp>

#include <cstdint>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace {
using nlohmann::json;
using tollgate::redacted;
namespace jwt = tollgate::jwt;

constexpr std::int64_t now = 1'700'000'000;
const redacted secret{"worker-secret"};

jwt::verifier make_verifier(std::int64_t leeway = 0) {
  jwt::verify_options options;
  options.now = [] { return now; };
  options.leeway = std::chrono::seconds(leeway);
  return jwt::verifier{secret, options};
}
std::string reason(std::string_view token, std::int64_t leeway = 0) { return make_verifier(leeway).verify(token).error; }
std::string sign(const json& claims) { return jwt::sign_hs256(claims, secret); }
json good_claims() { return {{"ver", "1"}, {"aud", "worker"}, {"iat", now}, {"exp", now + 3600}}; }
std::string segment(std::string_view text) { return jwt::base64url_encode(text); }
}  // namespace

TEST_CASE("jwt verifier: the caller's token is valid and its claims come back") {
  const auto r = make_verifier().verify(sign(good_claims()));
  CHECK(r.ok());
  CHECK(r.error.empty());
  CHECK(r.claims == good_claims());
}

TEST_CASE("jwt verifier: a token with only aud and ver is valid (exp and iat are optional)") {
  CHECK(make_verifier().verify(sign({{"aud", "worker"}, {"ver", "1"}})).ok());
}

TEST_CASE("jwt verifier: Not enough segments") {
  CHECK(reason("invalid-token") == "Not enough segments");
  CHECK(reason("a.b") == "Not enough segments");
  CHECK(reason("") == "Not enough segments");
  CHECK(reason(sign(good_claims()) + ".extra") == "Not enough segments");
}

TEST_CASE("jwt verifier: malformed segments name the segment") {
  const std::string payload = segment(good_claims().dump());
  CHECK(reason("!!!." + payload + ".c2ln") == "Invalid header padding");
  CHECK(reason(segment("not json") + "." + payload + ".c2ln") == "Invalid header string: not valid JSON");
  CHECK(reason(segment("[\"HS256\"]") + "." + payload + ".c2ln") == "Invalid header string: must be a json object");
  const std::string header = segment(R"({"alg":"HS256","typ":"JWT"})");
  CHECK(reason(header + ".Zm9vY.c2ln") == "Invalid payload padding");
  CHECK(reason(header + "." + payload + ".c2ln=") == "Invalid crypto padding");
}

TEST_CASE("jwt verifier: Signature verification failed") {
  CHECK(reason(jwt::sign_hs256(good_claims(), redacted{"another-secret"})) == "Signature verification failed");
  // A payload swapped under an existing signature.
  const auto token = sign(good_claims());
  const auto forged_payload = segment(json{{"ver", "1"}, {"aud", "worker"}, {"sub", "admin"}}.dump());
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  CHECK(reason(token.substr(0, first + 1) + forged_payload + token.substr(last)) == "Signature verification failed");
  // A valid but truncated signature (31 bytes).
  const auto sig = *jwt::base64url_decode(token.substr(last + 1));
  CHECK(reason(token.substr(0, last + 1) + jwt::base64url_encode(sig.substr(0, 31))) == "Signature verification failed");
  CHECK(reason(token.substr(0, last + 1)) == "Signature verification failed");  // empty signature
}

TEST_CASE("jwt verifier: constant-time comparison path, a difference in the first or last byte fails alike") {
  const auto token = sign(good_claims());
  const auto last = token.rfind('.');
  auto sig = *jwt::base64url_decode(token.substr(last + 1));
  REQUIRE(sig.size() == 32);
  auto flip = [&](std::size_t i) {
    auto s = sig;
    s[i] = static_cast<char>(s[i] ^ 0x01);
    return token.substr(0, last + 1) + jwt::base64url_encode(s);
  };
  CHECK(reason(flip(0)) == "Signature verification failed");
  CHECK(reason(flip(31)) == "Signature verification failed");
  CHECK(jwt::constant_time_equal("abc", "abc"));
  CHECK_FALSE(jwt::constant_time_equal("abc", "abd"));
  CHECK_FALSE(jwt::constant_time_equal("abc", "ab"));
  CHECK(jwt::constant_time_equal("", ""));
}

TEST_CASE("jwt verifier: a signature spelled with stray base64url bits is refused") {
  const auto token = sign(good_claims());
  // 32 bytes are 43 characters with 2 leftover bits; setting them gives a second spelling of the same bytes.
  auto last_char = token.back();
  const int digit = tollgate::jwt::detail::base64url_digit(last_char);
  REQUIRE((digit & 3) == 0);
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto respelled = token.substr(0, token.size() - 1) + alphabet[digit | 1];
  CHECK(reason(respelled) == "Invalid crypto padding");
  CHECK(reason(token + "=") == "Invalid crypto padding");
}

TEST_CASE("jwt verifier: The specified alg value is not allowed (HS512, none, RS256, missing)") {
  for (const char* alg : {"HS512", "HS384", "none", "None", "RS256", "ES256", "hs256"}) {
    CAPTURE(alg);
    CHECK(reason(jwt::sign_with_header({{"alg", alg}, {"typ", "JWT"}}, good_claims(), secret)) ==
          "The specified alg value is not allowed");
  }
  CHECK(reason(jwt::sign_with_header({{"typ", "JWT"}}, good_claims(), secret)) == "The specified alg value is not allowed");
  CHECK(reason(jwt::sign_with_header({{"alg", json::array({"HS256"})}}, good_claims(), secret)) ==
        "The specified alg value is not allowed");
  // The classic "alg": "none" token with an empty signature.
  const auto none = segment(R"({"alg":"none","typ":"JWT"})") + "." + segment(good_claims().dump()) + ".";
  CHECK(reason(none) == "The specified alg value is not allowed");
}

TEST_CASE("jwt verifier: a critical header extension is refused (RFC 7515 4.1.11), even when correctly signed") {
  for (const json& crit : {json::array({"exp"}), json::array({"b64"}), json::array(), json("b64"), json(nullptr)}) {
    CAPTURE(crit.dump());
    CHECK(reason(jwt::sign_with_header({{"alg", "HS256"}, {"typ", "JWT"}, {"crit", crit}, {"b64", false}}, good_claims(), secret)) ==
          "Unsupported critical header parameter (crit)");
  }
  CHECK(reason(jwt::sign_with_header({{"alg", "HS256"}, {"typ", "JWT"}}, good_claims(), secret)).empty());
}

TEST_CASE("jwt verifier: alg is checked before the signature") {
  CHECK(reason(jwt::sign_with_header({{"alg", "HS512"}}, good_claims(), redacted{"wrong"})) ==
        "The specified alg value is not allowed");
}

TEST_CASE("jwt verifier: Signature has expired when exp <= now") {
  auto claims = good_claims();
  claims["exp"] = now;
  CHECK(reason(sign(claims)) == "Signature has expired");
  claims["exp"] = now - 100;
  CHECK(reason(sign(claims)) == "Signature has expired");
  claims["exp"] = now + 1;
  CHECK(reason(sign(claims)).empty());
}

TEST_CASE("jwt verifier: The token is not yet valid (nbf) and (iat)") {
  auto claims = good_claims();
  claims["nbf"] = now + 1;
  CHECK(reason(sign(claims)) == "The token is not yet valid (nbf)");
  claims["nbf"] = now;
  CHECK(reason(sign(claims)).empty());
  claims = good_claims();
  claims["iat"] = now + 1;
  CHECK(reason(sign(claims)) == "The token is not yet valid (iat)");
  claims["iat"] = now;
  CHECK(reason(sign(claims)).empty());
}

TEST_CASE("jwt verifier: leeway widens exp, nbf and iat alike (default 0)") {
  auto claims = good_claims();
  claims["exp"] = now - 5;
  CHECK(reason(sign(claims), 10).empty());
  CHECK(reason(sign(claims), 5) == "Signature has expired");
  claims = good_claims();
  claims["iat"] = now + 5;
  claims["nbf"] = now + 5;
  CHECK(reason(sign(claims), 5).empty());
  CHECK(reason(sign(claims), 4) == "The token is not yet valid (iat)");
  CHECK(jwt::verify_options{}.leeway == std::chrono::seconds(0));
}

TEST_CASE("jwt verifier: numeric claims of the wrong type") {
  auto claims = good_claims();
  claims["exp"] = "soon";
  CHECK(reason(sign(claims)) == "Expiration Time claim (exp) must be an integer.");
  claims = good_claims();
  claims["iat"] = json::array({1});
  CHECK(reason(sign(claims)) == "Issued At claim (iat) must be an integer.");
  claims = good_claims();
  claims["nbf"] = nullptr;
  CHECK(reason(sign(claims)) == "Not Before claim (nbf) must be an integer.");
  // What Python's int() accepts, PyJWT accepts: floats truncate, decimal strings parse.
  claims = good_claims();
  claims["exp"] = static_cast<double>(now) + 0.9;
  CHECK(reason(sign(claims)) == "Signature has expired");
  claims["exp"] = std::to_string(now + 60);
  CHECK(reason(sign(claims)).empty());
}

TEST_CASE("jwt verifier: audience rules") {
  auto claims = good_claims();
  claims.erase("aud");
  CHECK(reason(sign(claims)) == "Token is missing the \"aud\" claim");
  claims["aud"] = "engine";
  CHECK(reason(sign(claims)) == "Audience doesn't match");
  claims["aud"] = json::array({"engine", "worker"});
  CHECK(reason(sign(claims)).empty());
  claims["aud"] = json::array({"engine"});
  CHECK(reason(sign(claims)) == "Audience doesn't match");
  // PyJWT treats a falsy aud as missing: `"aud" not in payload or not payload["aud"]`.
  for (const json& falsy : {json::array(), json(""), json(nullptr), json(false), json(0), json::object()}) {
    CAPTURE(falsy.dump());
    claims["aud"] = falsy;
    CHECK(reason(sign(claims)) == "Token is missing the \"aud\" claim");
  }
  claims["aud"] = 42;
  CHECK(reason(sign(claims)) == "Invalid claim format in token");
  claims["aud"] = json::array({"worker", 1});
  CHECK(reason(sign(claims)) == "Invalid claim format in token");
  claims["aud"] = "Worker";
  CHECK(reason(sign(claims)) == "Audience doesn't match");
}

TEST_CASE("jwt verifier: a negative leeway is a configuration error") {
  tollgate::jwt::verify_options options;
  options.leeway = std::chrono::seconds(-1);
  CHECK_THROWS_AS(tollgate::jwt::verifier(tollgate::redacted("s"), options), std::invalid_argument);
}

TEST_CASE("jwt verifier: Unsupported token version, printed as Python prints it") {
  auto claims = good_claims();
  claims.erase("ver");
  CHECK(reason(sign(claims)) == "Unsupported token version: None");
  claims["ver"] = nullptr;
  CHECK(reason(sign(claims)) == "Unsupported token version: None");
  claims["ver"] = 1;
  CHECK(reason(sign(claims)) == "Unsupported token version: 1");
  claims["ver"] = "2";
  CHECK(reason(sign(claims)) == "Unsupported token version: 2");
  claims["ver"] = true;
  CHECK(reason(sign(claims)) == "Unsupported token version: True");
  claims["ver"] = 1.0;
  CHECK(reason(sign(claims)) == "Unsupported token version: 1.0");
  claims["ver"] = json::array({"1"});
  CHECK(reason(sign(claims)) == "Unsupported token version: ['1']");
}

TEST_CASE("jwt verifier: checks run in the order signature, iat, nbf, exp, aud, ver") {
  json claims = {{"iat", now + 10}, {"nbf", now + 10}, {"exp", now - 10}, {"aud", "engine"}, {"ver", "9"}};
  CHECK(reason(jwt::sign_hs256(claims, redacted{"wrong"})) == "Signature verification failed");
  CHECK(reason(sign(claims)) == "The token is not yet valid (iat)");
  claims.erase("iat");
  CHECK(reason(sign(claims)) == "The token is not yet valid (nbf)");
  claims.erase("nbf");
  CHECK(reason(sign(claims)) == "Signature has expired");
  claims.erase("exp");
  CHECK(reason(sign(claims)) == "Audience doesn't match");
  claims["aud"] = "worker";
  CHECK(reason(sign(claims)) == "Unsupported token version: 9");
  claims = {{"iat", "x"}, {"exp", "y"}};
  CHECK(reason(sign(claims)) == "Issued At claim (iat) must be an integer.");
}

TEST_CASE("jwt verifier: only a signed payload is parsed") {
  const auto header = segment(R"({"alg":"HS256","typ":"JWT"})");
  auto signed_token = [&](std::string_view payload_text) {
    const std::string input = header + "." + segment(payload_text);
    return input + "." + jwt::base64url_encode(jwt::hmac_sha256(secret.reveal(), input));
  };
  CHECK(reason(signed_token("not json")) == "Invalid payload string: not valid JSON");
  CHECK(reason(signed_token("[1,2]")) == "Invalid payload string: must be a json object");
  // Unsigned garbage gets the signature error, not a parse error.
  CHECK(reason(header + "." + segment("not json") + ".c2lnbmF0dXJl") == "Signature verification failed");
}

TEST_CASE("jwt verifier: audience and version checks can be switched off for other token kinds") {
  jwt::verify_options options;
  options.audience = std::nullopt;
  options.version = std::nullopt;
  const jwt::verifier relaxed{secret, options};
  CHECK(relaxed.verify(sign({{"sub", "u1"}})).ok());
  options.audience = "api";
  const jwt::verifier api{secret, options};
  CHECK(api.verify(sign({{"aud", "api"}})).ok());
  CHECK(api.verify(sign({{"aud", "worker"}})).error == "Audience doesn't match");
}

TEST_CASE("jwt verifier: an empty secret verifies nothing, and the secret never prints") {
  const jwt::verifier empty{redacted{}};
  CHECK_FALSE(empty.has_secret());
  CHECK(empty.verify(jwt::sign_hs256(good_claims(), redacted{})).error == "No secret configured");
  const auto printed = fmt::format("{}", make_verifier().secret());
  CHECK(printed.find("worker-secret") == std::string::npos);
}

TEST_CASE("jwt verifier: HMAC-SHA256 matches RFC 4231 test case 2") {
  const auto mac = jwt::hmac_sha256("Jefe", "what do ya want for nothing?");
  std::string hex;
  for (unsigned char c : mac) hex += fmt::format("{:02x}", c);
  CHECK(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
