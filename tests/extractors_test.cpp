// Tests of the user-ID extractors: header, query, bearer, JSON body, first_of.
#include <doctest/doctest.h>

#include <tollgate/extractors/from_body.hpp>
#include <tollgate/tollgate.hpp>

using tollgate::basic_request;
using tollgate::request_ref;

namespace {
template <class E>
std::optional<std::string> run(const E& e, const basic_request& r) { return e.extract(request_ref(r)); }
}  // namespace

TEST_CASE("extractors: from_header trims, and treats empty as missing") {
  tollgate::from_header<"X-User-ID"> e;
  CHECK(run(e, basic_request{}.with_header("x-user-id", "  alice ")) == "alice");
  CHECK_FALSE(run(e, basic_request{}.with_header("X-User-ID", "   ")));
  CHECK_FALSE(run(e, basic_request{}));
  CHECK(e.source() == "the X-User-ID header");
  static_assert(tollgate::extractor<tollgate::from_header<"X">>);
}

TEST_CASE("extractors: from_query reads one parameter") {
  tollgate::from_query<"user_id"> e;
  CHECK(run(e, basic_request{}.with_query("user_id", "bob")) == "bob");
  CHECK_FALSE(run(e, basic_request{}.with_query("user", "bob")));
  CHECK_FALSE(run(e, basic_request{}.with_query("user_id", "")));
  CHECK(e.source() == "the 'user_id' query parameter");
}

TEST_CASE("extractors: from_bearer takes the raw credential of a Bearer header") {
  tollgate::from_bearer e;
  CHECK(run(e, basic_request{}.with_header("Authorization", "Bearer sk-123")) == "sk-123");
  CHECK(run(e, basic_request{}.with_header("Authorization", "bearer   sk-123  ")) == "sk-123");
  CHECK_FALSE(run(e, basic_request{}.with_header("Authorization", "Basic dXNlcjpwdw==")));
  CHECK_FALSE(run(e, basic_request{}.with_header("Authorization", "Bearer")));
  CHECK_FALSE(run(e, basic_request{}.with_header("Authorization", "Bearer ")));
  CHECK_FALSE(run(e, basic_request{}.with_header("Authorization", "Bearersk-123")));
  CHECK_FALSE(run(e, basic_request{}.with_header("Authorization", "Bearer a b")));
  CHECK_FALSE(run(e, basic_request{}));
}

TEST_CASE("extractors: from_body reads a top-level JSON field") {
  tollgate::from_body<"user_id"> e;
  CHECK(run(e, basic_request{}.with_body(R"({"user_id": "carol", "data": {}})")) == "carol");
  CHECK(run(e, basic_request{}.with_body(R"({"user_id": 42})")) == "42");
  CHECK_FALSE(run(e, basic_request{}.with_body(R"({"user_id": ""})")));
  CHECK_FALSE(run(e, basic_request{}.with_body(R"({"user_id": null})")));
  CHECK_FALSE(run(e, basic_request{}.with_body(R"({"data": {"user_id": "x"}})")));
  CHECK_FALSE(run(e, basic_request{}.with_body("not json")));
  CHECK_FALSE(run(e, basic_request{}.with_body("[1,2]")));
  CHECK(e.source() == "a 'user_id' field in the JSON body");
}

TEST_CASE("extractors: first_of takes the first that finds an id and names all sources") {
  tollgate::first_of<tollgate::from_bearer, tollgate::from_header<"X-User-ID">> e;
  CHECK(run(e, basic_request{}.with_header("X-User-ID", "u").with_header("Authorization", "Bearer k")) == "k");
  CHECK(run(e, basic_request{}.with_header("X-User-ID", "u")) == "u");
  CHECK_FALSE(run(e, basic_request{}));
  CHECK(e.source() == "an 'Authorization: Bearer <credential>' header or the X-User-ID header");
}
