// Tests of the logger and of redaction: secrets never appear in clear.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include <tollgate/tollgate.hpp>

TEST_CASE("logging: redacted prints a stable fingerprint, never the secret") {
  const tollgate::redacted key("sk-live-SECRET-123");
  const std::string shown = fmt::format("{}", key);
  CHECK(shown.find("SECRET") == std::string::npos);
  CHECK(shown.rfind("«redacted:", 0) == 0);
  CHECK(shown == fmt::format("{}", tollgate::redacted("sk-live-SECRET-123")));
  CHECK(shown != fmt::format("{}", tollgate::redacted("sk-live-SECRET-124")));
  CHECK(key.reveal() == "sk-live-SECRET-123");
}

TEST_CASE("logging: fingerprints are a keyed PRF: one changed character flips half the bits, neighbours look unrelated") {
  // FNV-1a with a salted start state flipped 7.3 bits on average here and printed test-user-1/2/3
  // as 477c65f3 / 477c6746 / 477c6415; a PRF flips 16 of 32 on average.
  int flipped = 0;
  constexpr int pairs = 2'000;
  for (int i = 0; i < pairs; ++i) {
    const std::string base = fmt::format("test-user-{}", i);
    const auto a = tollgate::redacted(base + "a").fingerprint(), b = tollgate::redacted(base + "b").fingerprint();
    flipped += __builtin_popcount(a ^ b);
  }
  const double mean = static_cast<double>(flipped) / pairs;
  MESSAGE("bits flipped by the last character, on average: ", mean);
  CHECK(mean > 15.0);
  CHECK(mean < 17.0);
  const auto f1 = tollgate::redacted("test-user-1").fingerprint(), f2 = tollgate::redacted("test-user-2").fingerprint();
  CHECK((f1 >> 16) != (f2 >> 16));  // no shared prefix for neighbouring ids (a 1 in 65536 chance)
}

TEST_CASE("logging: the logger filters by level and hands lines to its sink") {
  std::vector<std::pair<tollgate::log_level, std::string>> lines;
  tollgate::logger log(tollgate::log_level::warn, [&](tollgate::log_level l, std::string_view s) { lines.emplace_back(l, std::string(s)); });
  log.info("not shown {}", 1);
  log.warn("shown {}", 2);
  log.error("also {}", tollgate::redacted("pw"));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].second == "shown 2");
  CHECK(lines[1].first == tollgate::log_level::error);
  CHECK(lines[1].second.find("pw") == std::string::npos);
  tollgate::logger::silent().error("nothing {}", 3);  // must not crash nor print
  tollgate::logger throwing(tollgate::log_level::debug, [](tollgate::log_level, std::string_view) { throw std::runtime_error("sink down"); });
  CHECK_NOTHROW(throwing.error("a failing sink never fails the caller"));
}
