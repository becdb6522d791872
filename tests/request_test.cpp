// Tests of the framework-agnostic request/response types and their type-erased references.
#include <doctest/doctest.h>

#include <tollgate/tollgate.hpp>

TEST_CASE("request: basic_request finds headers case-insensitively and queries exactly") {
  tollgate::basic_request r;
  r.with_header("X-User-ID", "alice").with_query("user_id", "bob").with_body("{}").with_method("POST").with_path("/p");
  CHECK(r.header("x-user-id") == "alice");
  CHECK_FALSE(r.header("X-Other"));
  CHECK(r.query("user_id") == "bob");
  CHECK_FALSE(r.query("USER_ID"));
  const tollgate::request_ref ref(r);
  CHECK(ref.header("X-USER-ID") == "alice");
  CHECK(ref.body() == "{}");
  CHECK(ref.method() == "POST");
  CHECK(ref.path() == "/p");
  CHECK(ref.native<tollgate::basic_request>() == &r);
  CHECK(ref.native<tollgate::basic_response>() == nullptr);
}

TEST_CASE("request: response_ref writes through and replaces headers") {
  tollgate::basic_response res;
  const tollgate::response_ref ref(res);
  ref.set_header("Retry-After", "1");
  ref.set_header("retry-after", "2");
  ref.set_content("{\"a\":1}", "application/json");
  ref.set_status(503);
  CHECK(res.status() == 503);
  CHECK(res.headers_.size() == 2);
  CHECK(ref.header("RETRY-AFTER") == "2");
  CHECK(ref.body_size() == 7);
  CHECK(ref.native<tollgate::basic_response>() == &res);
}
