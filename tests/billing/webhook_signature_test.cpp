// The Stripe and Orb signature schemes against vectors computed by python3's hmac and Orb's SDK tests.
#include <tollgate/detail/iso8601.hpp>
#include <tollgate/webhooks/orb_signature.hpp>
#include <tollgate/webhooks/stripe_signature.hpp>

#include <cctype>
#include <chrono>
#include <string>

#include <doctest/doctest.h>

#include "independent_hmac.hpp"

namespace {
using namespace std::chrono_literals;
using kind = tollgate::webhooks::signature_check::kind;
using tollgate::testing::python_hmac_sha256_hex;
using std::chrono::system_clock;

const tollgate::redacted stripe_secret{"whsec_test_0123456789abcdef"};
const std::string stripe_body = R"({"id":"evt_1","type":"customer.subscription.updated"})";
constexpr long long stripe_t = 1765000000;  // 2025-12-06T05:46:40Z
const system_clock::time_point stripe_now{std::chrono::seconds(stripe_t)};

tollgate::webhooks::signature_check stripe_verify(const std::string& header, const std::string& body = stripe_body,
                                                  system_clock::time_point now = stripe_now) {
  tollgate::basic_request req;
  req.with_method("POST").with_body(body);
  if (!header.empty()) req.with_header("Stripe-Signature", header);
  const tollgate::request_ref ref(req);
  return tollgate::webhooks::stripe_signature{}.verify({ref, body, stripe_secret, now, 300s});
}

// Stripe's signed payload is "<t>.<raw body>" (stripe.com/docs/webhooks "Verify signatures manually").
std::string stripe_hex(long long t = stripe_t, const std::string& body = stripe_body) {
  return python_hmac_sha256_hex(stripe_secret.reveal(), std::to_string(t) + "." + body);
}

// Orb's own SDK test vector (orb-python tests/api_resources/test_webhooks.py, orb-java WebhookServiceTest):
// secret, timestamp header, body and the signature Orb computed for them.
const tollgate::redacted orb_secret{"c-UGKYdnhHh436B_sMouYAPUvXyWpzOdunZBV5dFSD8"};
const std::string orb_timestamp = "2024-03-27T15:42:29.551";
const std::string orb_body =
    R"({"id": "o4mmewpfNNTnjfZc", "created_at": "2024-03-27T15:42:29+00:00", "type": "resource_event.test", "properties": {"message": "A test webhook from Orb. Happy testing!"}})";
const std::string orb_vector = "9d25de966891ab0bc18754faf8d83d0980b44ae330fcc130b41a6cf3daf1f391";
const system_clock::time_point orb_now =
    std::chrono::time_point_cast<system_clock::duration>(*tollgate::detail::parse_iso8601("2024-03-27T15:42:29Z"));

tollgate::webhooks::signature_check orb_verify(const std::string& timestamp, const std::string& signature, const std::string& body = orb_body,
                                               system_clock::time_point now = orb_now) {
  tollgate::basic_request req;
  req.with_method("POST").with_body(body);
  if (!timestamp.empty()) req.with_header("X-Orb-Timestamp", timestamp);
  if (!signature.empty()) req.with_header("X-Orb-Signature", signature);
  const tollgate::request_ref ref(req);
  return tollgate::webhooks::orb_signature{}.verify({ref, body, orb_secret, now, 300s});
}
}  // namespace

TEST_CASE("stripe_signature: a v1 computed by python3 over `<t>.<body>` is accepted") {
  const auto check = stripe_verify("t=" + std::to_string(stripe_t) + ",v1=" + stripe_hex());
  CHECK_MESSAGE(check.ok(), check.message);
  CHECK(check.signed_at == stripe_now);
}

TEST_CASE("stripe_signature: any matching v1 is accepted; v0 and unknown schemes are ignored") {
  const std::string good = stripe_hex();
  const std::string other = python_hmac_sha256_hex("whsec_old_secret", std::to_string(stripe_t) + "." + stripe_body);
  CHECK(stripe_verify("t=" + std::to_string(stripe_t) + ",v1=" + other + ",v1=" + good + ",v0=" + other).ok());
  CHECK(stripe_verify("t=" + std::to_string(stripe_t) + ", v1=" + good + ", x=y").ok());  // spaces after commas
  // A right HMAC under v0 only is not a v1 signature.
  CHECK(stripe_verify("t=" + std::to_string(stripe_t) + ",v0=" + good).outcome == kind::malformed);
}

TEST_CASE("stripe_signature: wrong signature, body, secret or timestamp are refused") {
  const std::string t = std::to_string(stripe_t);
  CHECK(stripe_verify("t=" + t + ",v1=" + stripe_hex(), stripe_body + " ").outcome == kind::bad_signature);       // body changed
  CHECK(stripe_verify("t=" + std::to_string(stripe_t + 1) + ",v1=" + stripe_hex()).outcome == kind::bad_signature);  // t changed
  CHECK(stripe_verify("t=" + t + ",v1=" + python_hmac_sha256_hex("whsec_other", t + "." + stripe_body)).outcome == kind::bad_signature);
  CHECK(stripe_verify("t=" + t + ",v1=").outcome == kind::bad_signature);
  CHECK(stripe_verify("t=" + t + ",v1=" + stripe_hex().substr(0, 63)).outcome == kind::bad_signature);
  // Upper-case hex is not what Stripe sends; it compares as a different string, as in Stripe's SDKs.
  std::string upper = stripe_hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(stripe_verify("t=" + t + ",v1=" + upper).outcome == kind::bad_signature);
}

TEST_CASE("stripe_signature: missing and unreadable headers") {
  CHECK(stripe_verify("").outcome == kind::missing_header);
  CHECK(stripe_verify("v1=" + stripe_hex()).outcome == kind::malformed);              // no t
  CHECK(stripe_verify("t=abc,v1=" + stripe_hex()).outcome == kind::malformed);        // t not a number
  CHECK(stripe_verify("t=-5,v1=" + stripe_hex()).outcome == kind::malformed);
  CHECK(stripe_verify("t=99999999999999999999,v1=00").outcome == kind::malformed);  // no overflow
  CHECK(stripe_verify("t=" + std::to_string(stripe_t)).outcome == kind::malformed);   // no v1
  CHECK(stripe_verify(",,,=,t").outcome == kind::malformed);
}

TEST_CASE("stripe_signature: the timestamp must be within the tolerance, either way") {
  const std::string header = "t=" + std::to_string(stripe_t) + ",v1=" + stripe_hex();
  CHECK(stripe_verify(header, stripe_body, stripe_now + 300s).ok());  // the edge is inside
  CHECK(stripe_verify(header, stripe_body, stripe_now - 300s).ok());
  const auto old = stripe_verify(header, stripe_body, stripe_now + 301s);
  CHECK(old.outcome == kind::stale);
  CHECK(old.message == "Timestamp outside the tolerance zone (too old)");
  CHECK(stripe_verify(header, stripe_body, stripe_now - 301s).outcome == kind::stale);
  // A wrong signature is reported as such even when also stale: the message never helps a forger.
  CHECK(stripe_verify("t=" + std::to_string(stripe_t) + ",v1=00", stripe_body, stripe_now + 1h).outcome == kind::bad_signature);
}

TEST_CASE("orb_signature: Orb's own SDK test vector is accepted") {
  const auto check = orb_verify(orb_timestamp, "v1=" + orb_vector);
  CHECK_MESSAGE(check.ok(), check.message);
  // The same vector, recomputed by python3 over `v1:<timestamp>:<body>`, as a cross-check of the test.
  CHECK(python_hmac_sha256_hex(orb_secret.reveal(), "v1:" + orb_timestamp + ":" + orb_body) == orb_vector);
}

TEST_CASE("orb_signature: several space-separated signatures, upper-case hex, other versions ignored") {
  CHECK(orb_verify(orb_timestamp, "v0=" + orb_vector + " v1=" + std::string(64, '0') + " v1=" + orb_vector).ok());
  std::string upper = orb_vector;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(orb_verify(orb_timestamp, "v1=" + upper).ok());  // orb-go compares decoded bytes
  CHECK(orb_verify(orb_timestamp, "v2=" + orb_vector).outcome == kind::bad_signature);
  CHECK(orb_verify(orb_timestamp, orb_vector).outcome == kind::bad_signature);  // no "v1=" prefix
}

TEST_CASE("orb_signature: the timestamp header is signed exactly as sent") {
  // The same instant written differently is a different signed payload.
  CHECK(orb_verify("2024-03-27T15:42:29.551Z", "v1=" + orb_vector).outcome == kind::bad_signature);
  const std::string zoned = "2024-03-27T16:42:29.551+01:00";
  const auto check = orb_verify(zoned, "v1=" + python_hmac_sha256_hex(orb_secret.reveal(), "v1:" + zoned + ":" + orb_body));
  CHECK_MESSAGE(check.ok(), check.message);
  CHECK(check.signed_at == orb_now + 551ms);
}

TEST_CASE("orb_signature: refusals") {
  CHECK(orb_verify("", "v1=" + orb_vector).outcome == kind::missing_header);
  CHECK(orb_verify(orb_timestamp, "").outcome == kind::missing_header);
  CHECK(orb_verify("yesterday", "v1=" + orb_vector).outcome == kind::malformed);
  CHECK(orb_verify("2024-02-30T00:00:00", "v1=" + orb_vector).outcome == kind::malformed);
  CHECK(orb_verify(orb_timestamp, "v1=" + orb_vector, orb_body + "\n").outcome == kind::bad_signature);
  const auto old = orb_verify(orb_timestamp, "v1=" + orb_vector, orb_body, orb_now + 6min);
  CHECK(old.outcome == kind::stale);
  CHECK(old.message == "Webhook timestamp is too old");
  CHECK(orb_verify(orb_timestamp, "v1=" + orb_vector, orb_body, orb_now - 6min).message == "Webhook timestamp is too new");
  CHECK(orb_verify(orb_timestamp, "v1=" + orb_vector, orb_body, orb_now + 5min).ok());
}

TEST_CASE("orb_signature and stripe_signature: no message carries the secret or the expected signature") {
  const auto orb = orb_verify(orb_timestamp, "v1=" + std::string(64, 'a'));
  CHECK(orb.message.find(orb_secret.reveal()) == std::string::npos);
  CHECK(orb.message.find(orb_vector) == std::string::npos);
  const auto stripe = stripe_verify("t=" + std::to_string(stripe_t) + ",v1=" + std::string(64, 'a'));
  CHECK(stripe.message.find(stripe_secret.reveal()) == std::string::npos);
  CHECK(stripe.message.find(stripe_hex()) == std::string::npos);
}

TEST_CASE("parse_iso8601: the forms billing providers send") {
  using tollgate::detail::parse_iso8601;
  using std::chrono::microseconds;
  const auto base = std::chrono::sys_days{std::chrono::year{2024} / 3 / 27} + 15h + 42min + 29s;
  CHECK(parse_iso8601("2024-03-27T15:42:29") == base);
  CHECK(parse_iso8601("2024-03-27T15:42:29Z") == base);
  CHECK(parse_iso8601("2024-03-27T15:42:29.551") == base + 551ms);
  CHECK(parse_iso8601("2024-03-27T15:42:29.123456789") == base + microseconds(123456));
  CHECK(parse_iso8601("2024-03-27T17:42:29+02:00") == base);
  CHECK(parse_iso8601("2024-03-27T10:42:29-0500") == base);
  CHECK(parse_iso8601("2024-02-29T00:00:00"));
  CHECK_FALSE(parse_iso8601("2023-02-29T00:00:00"));
  CHECK_FALSE(parse_iso8601("2024-03-27"));
  CHECK_FALSE(parse_iso8601("2024-03-27T24:00:00"));
  CHECK_FALSE(parse_iso8601("2024-03-27T15:42:29."));
  CHECK_FALSE(parse_iso8601("2024-03-27T15:42:29Zjunk"));
  CHECK_FALSE(parse_iso8601(""));
}
