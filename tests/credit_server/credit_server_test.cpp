// Tests of the reference credit server as a real program on loopback: every endpoint, status and restart.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/service/credit_service.hpp>
#include <tollgate/service/journal_segment.hpp>

#include "support/child_process.hpp"

using namespace tollgate::literals;
using tollgate::credits;
using json = nlohmann::json;

namespace doctest {
template <>
struct StringMaker<tollgate::credits> {
  static String convert(tollgate::credits c) { return String(c.to_string().c_str()); }
};
}  // namespace doctest

namespace {

const std::string token = "test-token-4f1e9a";

// A scratch directory, removed with everything in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char pattern[] = "/tmp/tollgate_credit_server_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name) << content;
    return file(name);
  }
};

const char* const seed_json = R"({"users": [
  {"user_id": "test-user-1", "balance": 100, "credentials": [{"key": "test-user-1", "is_public": false}]},
  {"user_id": "test-user-2", "balance": 100, "credentials": [{"key": "test-user-2", "is_public": false}]},
  {"user_id": "test-user-3", "balance": 100, "credentials": [{"key": "test-user-3", "is_public": false}]}
]})";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The credit server launched with the test seed, a token and `extra` arguments, plus a client.
struct server {
  temp_dir dir;
  tollgate::testing::child_process process;
  int port;
  httplib::Client client;

  explicit server(std::vector<std::string> extra = {}, const std::string& seed = seed_json)
      : process(arguments(dir.write("seed.json", seed), std::move(extra)), {}, dir.file("stderr.log")),
        port(started(process, dir.file("stderr.log"))),
        client("127.0.0.1", port) {
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(10));
  }

  // The port it listens on; when it exits instead, what it said on stderr is the error.
  static int started(tollgate::testing::child_process& p, const std::string& stderr_path) {
    try {
      return p.read_port();
    } catch (const std::exception& e) {
      p.stop(0);
      throw std::runtime_error(fmt::format("the credit server did not start ({}); its stderr: {}", e.what(), read_file(stderr_path)));
    }
  }

  static std::vector<std::string> arguments(const std::string& seed_file, std::vector<std::string> extra) {
    std::vector<std::string> argv{TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", token, "--seed", seed_file,
                                  "--log-level", "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  static httplib::Headers auth(httplib::Headers extra = {}) {
    extra.emplace("Authorization", "Bearer " + token);
    return extra;
  }
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers headers = auth()) {
    return client.Post(path.c_str(), headers, body, "application/json");
  }
  httplib::Result post(const std::string& path, const json& body, httplib::Headers headers = auth()) {
    return post(path, body.dump(), std::move(headers));
  }
  httplib::Result get(const std::string& path, httplib::Headers headers = auth()) { return client.Get(path.c_str(), headers); }

  credits balance(const std::string& user) {
    auto res = get("/v1/users/" + user);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return json::parse(res->body).at("balance").get<credits>();
  }
  std::string lock(const std::string& credential, credits amount, const std::string& path = "/v1/balance/lock/private") {
    auto res = post(path, json{{"credential", credential}, {"amount", amount}});
    REQUIRE(res);
    REQUIRE(res->status == 200);
    const auto body = json::parse(res->body);
    REQUIRE(body.at("lock_id").is_string());
    return body["lock_id"].get<std::string>();
  }
  httplib::Result unlock(const std::string& lock_id, credits real_cost) {
    return post("/v1/balance/unlock", json{{"lock_id", lock_id}, {"real_cost", real_cost}});
  }
  json summary() {
    auto res = get("/v1/summary");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }
  bool alive() {
    auto res = client.Get("/health");
    return res && res->status == 200;
  }
};

// A non-2xx answer: the expected status and the contract's {"error": "<message>"} body. Returns the message.
std::string expect_error(const httplib::Result& res, int status) {
  REQUIRE(res);
  CHECK(res->status == status);
  const auto body = json::parse(res->body, nullptr, false);
  REQUIRE(body.is_object());
  REQUIRE(body.contains("error"));
  REQUIRE(body["error"].is_string());
  CHECK_FALSE(body["error"].get<std::string>().empty());
  return body["error"].get<std::string>();
}

json open_lock(const json& summary, const std::string& lock_id) {
  for (const auto& l : summary.at("locks"))
    if (l.at("lock_id") == lock_id) return l;
  return nullptr;
}

json summary_user(const json& summary, const std::string& user_id) {
  for (const auto& u : summary.at("users"))
    if (u.at("user_id") == user_id) return u;
  return nullptr;
}

// A program expected to exit at startup: its exit code.
int startup_exit_code(std::vector<std::string> argv, std::vector<std::string> env = {"CREDIT_API_TOKEN="}) {
  tollgate::testing::child_process process(std::move(argv), std::move(env));
  CHECK_THROWS(process.read_line());  // it closes stdout without printing "listening on ..."
  const int status = process.stop(SIGTERM);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("credit_server: health needs no token; every other route needs the right bearer token") {
  server s;
  for (const char* path : {"/health", "/v1/health"}) {
    auto res = s.client.Get(path);
    REQUIRE(res);
    CHECK(res->status == 200);
  }
  CHECK(expect_error(s.get("/v1/summary", {}), 401).find("token") != std::string::npos);
  expect_error(s.get("/v1/summary", {{"Authorization", "Bearer wrong-token"}}), 401);
  expect_error(s.get("/v1/summary", {{"Authorization", "Bearer " + token + "x"}}), 401);
  expect_error(s.get("/v1/summary", {{"Authorization", "Bearer " + token.substr(0, token.size() - 1)}}), 401);
  expect_error(s.get("/v1/summary", {{"Authorization", "Basic " + token}}), 401);
  expect_error(s.get("/v1/summary", {{"Authorization", token}}), 401);
  expect_error(s.get("/v1/users/test-user-1", {}), 401);
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "test-user-1"}, {"amount", 5}}, {}), 401);
  expect_error(s.post("/v1/balance/unlock", json{{"lock_id", "x"}, {"real_cost", 0}}, {}), 401);
  expect_error(s.post("/v1/users", json{{"user_id", "eve"}, {"balance", 1000}}, {}), 401);
  expect_error(s.post("/v1/users/topup", json{{"user_id", "test-user-1"}, {"amount", 1000}}, {}), 401);
  expect_error(s.post("/v1/credential", json{{"user_id", "test-user-1"}, {"credential_key", "k"}}, {}), 401);
  // Nothing was changed by the refused calls; the scheme name is case-insensitive.
  CHECK(s.balance("test-user-1") == 100_cr);
  auto lower = s.get("/v1/summary", {{"Authorization", "bearer " + token}});
  REQUIRE(lower);
  CHECK(lower->status == 200);
}

TEST_CASE("credit_server: a server without a token is refused at startup; the token may come from the environment") {
  temp_dir dir;
  CHECK(startup_exit_code({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0"}) == 2);
  CHECK(startup_exit_code({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", ""}) == 2);

  tollgate::testing::child_process process({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--log-level", "warn"},
                                           {"CREDIT_API_TOKEN=from-the-env"});
  httplib::Client client("127.0.0.1", process.read_port());
  auto ok = client.Get("/v1/summary", {{"Authorization", "Bearer from-the-env"}});
  REQUIRE(ok);
  CHECK(ok->status == 200);
  auto wrong = client.Get("/v1/summary", {{"Authorization", "Bearer " + token}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
}

TEST_CASE("credit_server: bad arguments and a damaged state file stop it at startup") {
  temp_dir dir;
  const std::string bin = TOLLGATE_CREDIT_SERVER_BINARY;
  CHECK(startup_exit_code({bin, "--token", token, "--port", "http"}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "70000"}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--lock-ttl", "-1"}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--lock-ttl", "soon"}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--frobnicate", "1"}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--seed", dir.file("missing.json")}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--seed", dir.write("bad.json", "{\"users\": [")}) == 2);
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--seed",
                           dir.write("neg.json", R"({"users": [{"user_id": "u", "balance": -1}]})")}) == 2);
  // A damaged state file must never be replaced by an empty ledger: that would forget balances.
  const std::string state = dir.write("state.json", "{\"format\": \"tollgate-credit-server-state\", \"vers");
  CHECK(startup_exit_code({bin, "--token", token, "--port", "0", "--state", state}) == 1);
  CHECK(read_file(state) == "{\"format\": \"tollgate-credit-server-state\", \"vers");
}

TEST_CASE("credit_server: lock then unlock charges the real cost exactly; a repeated unlock is answered, not charged") {
  server s;
  const std::string id = s.lock("test-user-1", 5_cr);
  CHECK(s.balance("test-user-1") == 95_cr);  // held funds are not available
  auto first = s.unlock(id, 1.25_cr);
  REQUIRE(first);
  CHECK(first->status == 200);
  const auto body = json::parse(first->body);
  CHECK(body.at("lock_id") == id);
  CHECK(body.at("charged").get<credits>() == 1.25_cr);
  CHECK(body.at("replayed") == false);
  CHECK(s.balance("test-user-1") == 98.75_cr);

  auto again = s.unlock(id, 1.25_cr);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body).at("replayed") == true);
  CHECK(s.balance("test-user-1") == 98.75_cr);  // charged once

  CHECK(expect_error(s.unlock(id, 2_cr), 400).find("already settled") != std::string::npos);
  CHECK(s.balance("test-user-1") == 98.75_cr);

  // real_cost 0 is a full refund; amounts with 6 decimals stay exact.
  const std::string refund = s.lock("test-user-2", 0.000001_cr);
  REQUIRE(s.unlock(refund, 0_cr)->status == 200);
  const std::string exact = s.lock("test-user-2", 10_cr);
  REQUIRE(s.unlock(exact, 0.123456_cr)->status == 200);
  CHECK(s.balance("test-user-2") == 100_cr - 0.123456_cr);
  const std::string tenth = s.lock("test-user-3", 0.3_cr);
  REQUIRE(s.unlock(tenth, 0.1_cr)->status == 200);
  CHECK(s.balance("test-user-3") == 99.9_cr);
}

TEST_CASE("credit_server: amounts a double cannot carry travel as exact decimal strings, in and out, and survive a restart") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  const credits rich = *credits::parse("9000000000.123457");  // above 2^33 credits, with a fraction
  const credits hold = *credits::parse("8589934592.000001");
  const credits cost = *credits::parse("8589934591.999999");
  std::string id;
  {
    server s({"--state", state});
    auto created = s.post("/v1/users", json{{"user_id", "whale"}, {"balance", rich}});
    REQUIRE(created);
    REQUIRE(created->status == 200);
    CHECK(json::parse(created->body).at("balance") == "9000000000.123457");  // the reply keeps every digit too
    REQUIRE(s.post("/v1/credential", json{{"user_id", "whale"}, {"credential_key", "whale-key"}})->status == 200);
    id = s.lock("whale-key", hold);
    CHECK(s.balance("whale") == rich - hold);
    s.process.stop(SIGKILL);
  }
  server s({"--state", state});
  CHECK(s.balance("whale") == rich - hold);  // written to the journal and read back exactly
  REQUIRE(s.unlock(id, cost)->status == 200);
  CHECK(s.balance("whale") == rich - cost);
  CHECK(s.balance("whale") == *credits::parse("410065408.123458"));
}

TEST_CASE("credit_server: lock failures: insufficient balance is 400, an unknown credential is 404") {
  server s;
  CHECK(expect_error(s.post("/v1/balance/lock/private", json{{"credential", "test-user-1"}, {"amount", 100.000001}}), 400)
            .find("available") != std::string::npos);
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "nobody"}, {"amount", 1}}), 404);
  expect_error(s.post("/v1/balance/lock/public", json{{"credential", "did:nil:nobody"}, {"amount", 1}}), 404);
  const std::string all = s.lock("test-user-1", 100_cr);  // exactly the balance is fine
  CHECK(s.balance("test-user-1") == 0_cr);
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "test-user-1"}, {"amount", 0.000001}}), 400);
  REQUIRE(s.unlock(all, 0_cr)->status == 200);
  CHECK(s.balance("test-user-1") == 100_cr);
}

TEST_CASE("credit_server: unlock failures: unknown lock 404, above the lock 400, negative 400") {
  server s;
  CHECK(expect_error(s.unlock("lk_00000000000000000000000000000000", 1_cr), 404).find("not found") != std::string::npos);
  const std::string id = s.lock("test-user-1", 5_cr);
  CHECK(expect_error(s.unlock(id, 5.000001_cr), 400).find("exceeds") != std::string::npos);
  expect_error(s.post("/v1/balance/unlock", json{{"lock_id", id}, {"real_cost", -1}}), 400);
  CHECK(s.balance("test-user-1") == 95_cr);  // the failed unlocks left the lock open
  CHECK_FALSE(open_lock(s.summary(), id).is_null());
  auto ok = s.unlock(id, 5_cr);  // the whole hold is fine
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(s.balance("test-user-1") == 95_cr);
}

TEST_CASE("credit_server: an idempotency key returns the first lock, never a second hold") {
  server s;
  const json request{{"credential", "test-user-1"}, {"amount", 7}};
  auto first = s.post("/v1/balance/lock/private", request, server::auth({{"Idempotency-Key", "req-1"}}));
  auto second = s.post("/v1/balance/lock/private", request, server::auth({{"Idempotency-Key", "req-1"}}));
  REQUIRE(first);
  REQUIRE(second);
  REQUIRE(first->status == 200);
  REQUIRE(second->status == 200);
  const std::string id = json::parse(first->body).at("lock_id");
  CHECK(json::parse(second->body).at("lock_id") == id);
  CHECK(s.balance("test-user-1") == 93_cr);
  CHECK(s.summary().at("locks").size() == 1);

  // The body field works the same way; header and field must agree when both are given.
  json with_field = request;
  with_field["idempotency_key"] = "req-2";
  const std::string id2 = json::parse(s.post("/v1/balance/lock/private", with_field)->body).at("lock_id");
  CHECK(json::parse(s.post("/v1/balance/lock/private", with_field)->body).at("lock_id") == id2);
  CHECK(id2 != id);
  CHECK(s.balance("test-user-1") == 86_cr);
  expect_error(s.post("/v1/balance/lock/private", with_field, server::auth({{"Idempotency-Key", "req-3"}})), 400);

  // A key reused for another amount is a conflict, not a silent second meaning.
  json other_amount = request;
  other_amount["amount"] = 8;
  CHECK(expect_error(s.post("/v1/balance/lock/private", other_amount, server::auth({{"Idempotency-Key", "req-1"}})), 409)
            .find("idempotency") != std::string::npos);
  // Keys are per user: the same key from another user is a new lock.
  auto other_user = s.post("/v1/balance/lock/private", json{{"credential", "test-user-2"}, {"amount", 7}},
                           server::auth({{"Idempotency-Key", "req-1"}}));
  REQUIRE(other_user);
  REQUIRE(other_user->status == 200);
  CHECK(json::parse(other_user->body).at("lock_id") != id);
  CHECK(s.balance("test-user-2") == 93_cr);

  // Without a key every call is a new lock.
  s.lock("test-user-3", 1_cr);
  s.lock("test-user-3", 1_cr);
  CHECK(s.balance("test-user-3") == 98_cr);
  CHECK(s.balance("test-user-1") == 86_cr);
}

TEST_CASE("credit_server: public ids lock only on the public path, secret keys only on the private one") {
  server s;
  auto reg = s.post("/v1/credential", json{{"user_id", "test-user-2"}, {"credential_key", "did:nil:abc"}, {"is_public", true}});
  REQUIRE(reg);
  REQUIRE(reg->status == 200);
  CHECK(json::parse(reg->body).at("is_public") == true);

  const std::string id = s.lock("did:nil:abc", 4_cr, "/v1/balance/lock/public");
  CHECK(s.balance("test-user-2") == 96_cr);  // the owning user is charged
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "did:nil:abc"}, {"amount", 1}}), 404);
  expect_error(s.post("/v1/balance/lock/public", json{{"credential", "test-user-2"}, {"amount", 1}}), 404);
  s.lock("test-user-2", 1_cr, "/v1/balance/lock/private");
  CHECK(s.balance("test-user-2") == 95_cr);
  REQUIRE(s.unlock(id, 1_cr)->status == 200);
  CHECK(s.balance("test-user-2") == 98_cr);
}

TEST_CASE("credit_server: users, top-up and credentials") {
  server s;
  auto created = s.post("/v1/users", json{{"user_id", "alice"}, {"balance", 12.5}});
  REQUIRE(created);
  CHECK(created->status == 200);
  CHECK(json::parse(created->body).at("user_id") == "alice");
  CHECK(json::parse(created->body).at("balance").get<credits>() == 12.5_cr);
  CHECK(expect_error(s.post("/v1/users", json{{"user_id", "alice"}, {"balance", 99}}), 409).find("exists") != std::string::npos);
  CHECK(s.balance("alice") == 12.5_cr);  // the duplicate did not reset it

  auto unknown = s.get("/v1/users/nobody");
  CHECK(expect_error(unknown, 404).find("nobody") != std::string::npos);

  auto topped = s.post("/v1/users/topup", json{{"user_id", "alice"}, {"amount", 0.25}});
  REQUIRE(topped);
  CHECK(topped->status == 200);
  CHECK(json::parse(topped->body).at("user_id") == "alice");
  CHECK(json::parse(topped->body).at("new_balance").get<credits>() == 12.75_cr);
  CHECK(s.balance("alice") == 12.75_cr);
  expect_error(s.post("/v1/users/topup", json{{"user_id", "nobody"}, {"amount", 1}}), 404);
  expect_error(s.post("/v1/users/topup", json{{"user_id", "alice"}, {"amount", -1}}), 400);

  auto cred = s.post("/v1/credential", json{{"user_id", "alice"}, {"credential_key", "sk-alice-1"}, {"is_public", false}});
  REQUIRE(cred);
  REQUIRE(cred->status == 200);
  const auto cred_body = json::parse(cred->body);
  REQUIRE(cred_body.at("credential_id").is_string());
  CHECK_FALSE(cred_body["credential_id"].get<std::string>().empty());
  CHECK(cred->body.find("sk-alice-1") == std::string::npos);  // the secret is not echoed
  // Registering the same key for the same user again answers the same credential.
  auto same = s.post("/v1/credential", json{{"user_id", "alice"}, {"credential_key", "sk-alice-1"}});
  REQUIRE(same);
  CHECK(same->status == 200);
  CHECK(json::parse(same->body).at("credential_id") == cred_body["credential_id"]);
  expect_error(s.post("/v1/credential", json{{"user_id", "test-user-1"}, {"credential_key", "sk-alice-1"}}), 409);
  expect_error(s.post("/v1/credential", json{{"user_id", "alice"}, {"credential_key", "sk-alice-1"}, {"is_public", true}}), 409);
  expect_error(s.post("/v1/credential", json{{"user_id", "nobody"}, {"credential_key", "sk-x"}}), 404);

  const std::string id = s.lock("sk-alice-1", 2.75_cr);
  CHECK(s.balance("alice") == 10_cr);
  REQUIRE(s.unlock(id, 2_cr)->status == 200);
  CHECK(s.balance("alice") == 10.75_cr);
}

TEST_CASE("credit_server: summary lists open locks only, and balance excludes held funds") {
  server s;
  const std::string open = s.lock("test-user-1", 30_cr);
  const std::string settled = s.lock("test-user-1", 20_cr);
  REQUIRE(s.unlock(settled, 5_cr)->status == 200);
  const auto sum = s.summary();
  CHECK(sum.at("users").size() == 3);
  const auto user = summary_user(sum, "test-user-1");
  REQUIRE_FALSE(user.is_null());
  CHECK(user.at("balance").get<credits>() == 65_cr);  // 100 − 30 held − 5 charged
  CHECK(user.at("held").get<credits>() == 30_cr);
  CHECK(summary_user(sum, "test-user-2").at("balance").get<credits>() == 100_cr);
  REQUIRE(sum.at("locks").size() == 1);
  const auto lock = open_lock(sum, open);
  REQUIRE_FALSE(lock.is_null());
  CHECK(lock.at("amount").get<credits>() == 30_cr);
  CHECK(lock.at("user_id") == "test-user-1");
  CHECK(open_lock(sum, settled).is_null());
}

TEST_CASE("credit_server: an expired lock returns its funds and can no longer be settled") {
  server s({"--lock-ttl", "0.3"});
  const std::string id = s.lock("test-user-1", 40_cr);
  CHECK(s.balance("test-user-1") == 60_cr);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  CHECK(s.balance("test-user-1") == 100_cr);
  CHECK(s.summary().at("locks").empty());
  expect_error(s.unlock(id, 1_cr), 404);
  CHECK(s.balance("test-user-1") == 100_cr);
}

TEST_CASE("credit_server: state survives a restart: the open lock settles and balances are exact") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  std::string open_id, settled_id;
  {
    server s({"--state", state});
    open_id = s.lock("test-user-1", 10_cr);
    settled_id = s.lock("test-user-1", 5_cr);
    REQUIRE(s.unlock(settled_id, 2_cr)->status == 200);
    REQUIRE(s.post("/v1/users", json{{"user_id", "carol"}, {"balance", 7.5}})->status == 200);
    REQUIRE(s.post("/v1/credential", json{{"user_id", "carol"}, {"credential_key", "did:nil:carol"}, {"is_public", true}})->status == 200);
    REQUIRE(s.post("/v1/users/topup", json{{"user_id", "test-user-2"}, {"amount", 0.5}})->status == 200);
    CHECK(s.balance("test-user-1") == 88_cr);
    const int status = s.process.stop(SIGTERM);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(std::filesystem::exists(state));
  CHECK(read_file(state).find(token) == std::string::npos);  // the token is never stored

  server s({"--state", state});  // the same seed again: it must not reset restored users
  CHECK(s.balance("test-user-1") == 88_cr);
  CHECK(s.balance("test-user-2") == 100.5_cr);
  CHECK(s.balance("carol") == 7.5_cr);
  const auto sum = s.summary();
  REQUIRE(sum.at("locks").size() == 1);
  CHECK(open_lock(sum, open_id).at("amount").get<credits>() == 10_cr);
  CHECK(summary_user(sum, "test-user-1").at("held").get<credits>() == 10_cr);

  auto replay = s.unlock(settled_id, 2_cr);  // the settled history came back too
  REQUIRE(replay);
  CHECK(replay->status == 200);
  CHECK(json::parse(replay->body).at("replayed") == true);
  expect_error(s.unlock(settled_id, 3_cr), 400);

  REQUIRE(s.unlock(open_id, 4_cr)->status == 200);
  CHECK(s.balance("test-user-1") == 94_cr);
  CHECK(s.summary().at("locks").empty());
  // Public/private marks survive as well.
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "did:nil:carol"}, {"amount", 1}}), 404);
  s.lock("did:nil:carol", 1.5_cr, "/v1/balance/lock/public");
  CHECK(s.balance("carol") == 6_cr);
}

TEST_CASE("credit_server: malformed requests answer 400 naming the field, and never crash it") {
  server s;
  struct bad_case {
    const char* path;
    std::string body;
    const char* mentions;  // the message names the field
  };
  const std::vector<bad_case> cases{
      {"/v1/balance/lock/private", "", "JSON"},
      {"/v1/balance/lock/private", "{\"credential\": \"test-user-1\", \"amount\": ", "JSON"},
      {"/v1/balance/lock/private", "[1, 2]", "object"},
      {"/v1/balance/lock/private", "\"text\"", "object"},
      {"/v1/balance/lock/private", R"({"amount": 1})", "credential"},
      {"/v1/balance/lock/private", R"({"credential": 42, "amount": 1})", "credential"},
      {"/v1/balance/lock/private", R"({"credential": "", "amount": 1})", "credential"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1"})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": "5 credits"})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": "0.0000001"})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": true})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": null})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": -0.5})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": 1e300})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": 1e400})", "JSON"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": NaN})", "JSON"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": 99999999999999999999})", "amount"},
      {"/v1/balance/lock/private", R"({"credential": "test-user-1", "amount": 1, "idempotency_key": 7})", "idempotency_key"},
      {"/v1/balance/lock/public", R"({"credential": ["did:nil:x"], "amount": 1})", "credential"},
      {"/v1/balance/unlock", R"({"real_cost": 1})", "lock_id"},
      {"/v1/balance/unlock", R"({"lock_id": "lk_x"})", "real_cost"},
      {"/v1/balance/unlock", R"({"lock_id": "lk_x", "real_cost": -1})", "real_cost"},
      {"/v1/balance/unlock", R"({"lock_id": "lk_x", "real_cost": {}})", "real_cost"},
      {"/v1/users", R"({"balance": 1})", "user_id"},
      {"/v1/users", R"({"user_id": "a\nb", "balance": 1})", "user_id"},
      {"/v1/users", "{\"user_id\": \"" + std::string(300, 'u') + "\", \"balance\": 1}", "user_id"},
      {"/v1/users", R"({"user_id": "dave"})", "balance"},
      {"/v1/users", R"({"user_id": "dave", "balance": -3})", "balance"},
      {"/v1/users/topup", R"({"user_id": "test-user-1", "amount": "lots"})", "amount"},
      {"/v1/users/topup", R"({"amount": 1})", "user_id"},
      {"/v1/credential", R"({"credential_key": "k"})", "user_id"},
      {"/v1/credential", R"({"user_id": "test-user-1"})", "credential_key"},
      {"/v1/credential", R"({"user_id": "test-user-1", "credential_key": "k", "is_public": "yes"})", "is_public"},
      {"/v1/balance/lock/private", "{\"credential\": \"\xff\xfe\", \"amount\": 1}", "JSON"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    CAPTURE(c.body);
    const std::string message = expect_error(s.post(c.path, c.body), 400);
    CHECK(message.find(c.mentions) != std::string::npos);
  }
  REQUIRE(s.alive());
  CHECK(s.balance("test-user-1") == 100_cr);  // no bad request moved money
  CHECK(s.summary().at("locks").empty());
  CHECK(s.summary().at("users").size() == 3);
}

TEST_CASE("credit_server: unknown routes, wrong methods and oversized bodies get the error body") {
  server s;
  CHECK(expect_error(s.get("/v1/nothing-here"), 404).find("/v1/nothing-here") != std::string::npos);
  expect_error(s.get("/v1/balance/unlock"), 404);
  expect_error(s.client.Delete("/v1/users/test-user-1", server::auth()), 404);
  expect_error(s.post("/v1/balance/lock/private", std::string(200 * 1024, ' ')), 413);
  REQUIRE(s.alive());
}

TEST_CASE("credit_server: concurrent locks and unlocks on one user keep the balance exact and never negative") {
  server s;
  REQUIRE(s.post("/v1/users", json{{"user_id", "busy"}, {"balance", 50}})->status == 200);
  REQUIRE(s.post("/v1/credential", json{{"user_id", "busy"}, {"credential_key", "sk-busy"}})->status == 200);
  constexpr int threads = 6, rounds = 25;
  std::atomic<std::int64_t> charged_micros{0};
  std::atomic<int> settled{0}, refused{0}, unexpected{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", s.port);
      client.set_read_timeout(std::chrono::seconds(10));
      for (int i = 0; i < rounds; ++i) {
        auto res = client.Post("/v1/balance/lock/private", server::auth(), json{{"credential", "sk-busy"}, {"amount", 3}}.dump(),
                               "application/json");
        if (!res) { ++unexpected; continue; }
        if (res->status == 400) { ++refused; continue; }  // insufficient: held + charged reached the balance
        if (res->status != 200) { ++unexpected; continue; }
        const std::string id = json::parse(res->body).at("lock_id");
        const credits cost = (0.25_cr * ((t + i) % 4)) + 0.1_cr + credits::from_micros(t);  // 0.1 .. 0.850005
        auto done = client.Post("/v1/balance/unlock", server::auth(), json{{"lock_id", id}, {"real_cost", cost}}.dump(),
                                "application/json");
        if (!done || done->status != 200) { ++unexpected; continue; }
        charged_micros += cost.micros();
        ++settled;
      }
    });
  }
  // Meanwhile the available balance is never negative.
  std::atomic<bool> running{true};
  std::atomic<int> negative{0};
  std::thread watcher([&] {
    httplib::Client client("127.0.0.1", s.port);
    while (running) {
      auto res = client.Get("/v1/users/busy", server::auth());
      if (res && res->status == 200 && json::parse(res->body).at("balance").get<credits>().is_negative()) ++negative;
    }
  });
  for (auto& w : workers) w.join();
  running = false;
  watcher.join();

  CHECK(unexpected == 0);
  CHECK(negative == 0);
  CHECK(settled + refused == threads * rounds);
  CHECK(settled > 0);
  CHECK(s.balance("busy") == 50_cr - credits::from_micros(charged_micros));
  CHECK_FALSE(s.balance("busy").is_negative());
  CHECK(summary_user(s.summary(), "busy").at("held").get<credits>() == 0_cr);
  CHECK(s.summary().at("locks").empty());
}

TEST_CASE("credit_server: every change is logged, without the token or a credential in clear") {
  temp_dir logs;
  const std::string log_file = logs.file("server.log");
  server s({"--log-level", "info", "--log-file", log_file});
  REQUIRE(s.post("/v1/users", json{{"user_id", "erin"}, {"balance", 10}})->status == 200);
  REQUIRE(s.post("/v1/credential", json{{"user_id", "erin"}, {"credential_key", "sk-live-SECRET-erin"}})->status == 200);
  const std::string id = s.lock("sk-live-SECRET-erin", 2_cr);
  REQUIRE(s.unlock(id, 1_cr)->status == 200);
  REQUIRE(s.post("/v1/users/topup", json{{"user_id", "erin"}, {"amount", 1}})->status == 200);
  s.get("/v1/summary", {{"Authorization", "Bearer guess-" + token}});  // a refused token is not logged either
  s.process.stop(SIGTERM);

  const std::string text = read_file(log_file);
  CHECK(text.find("lock " + id) != std::string::npos);
  CHECK(text.find("unlock " + id) != std::string::npos);
  CHECK(text.find("erin") != std::string::npos);
  CHECK(text.find("top-up") != std::string::npos);
  CHECK(text.find("redacted") != std::string::npos);
  CHECK(text.find("SECRET") == std::string::npos);
  CHECK(text.find(token) == std::string::npos);
}

// --- durability: the journal, crashes, compaction, old state files --------------------------------

namespace {

// The state a client can observe, without the clock: users (balance, held) and open locks.
json observable_state(server& s) {
  json out = s.summary();
  for (auto& l : out.at("locks")) l.erase("expires_in_seconds");
  return out;
}

// What a workload did, to check after a restart.
struct workload_result {
  std::vector<std::pair<std::string, credits>> settled;  // lock id, charged
  std::vector<std::string> open;
  std::string keyed_lock;  // taken with Idempotency-Key "req-keyed"
  std::string carol_credential_id;
};

// Every kind of change, from several clients at once (so group commits share fsyncs).
workload_result run_workload(server& s, int rounds = 10) {
  workload_result r;
  REQUIRE(s.post("/v1/users", json{{"user_id", "carol"}, {"balance", 7.5}})->status == 200);
  auto cred = s.post("/v1/credential", json{{"user_id", "carol"}, {"credential_key", "did:nil:carol"}, {"is_public", true}});
  REQUIRE(cred);
  REQUIRE(cred->status == 200);
  r.carol_credential_id = json::parse(cred->body).at("credential_id").get<std::string>();
  REQUIRE(s.post("/v1/users/topup", json{{"user_id", "test-user-2"}, {"amount", 0.5}})->status == 200);
  auto keyed = s.post("/v1/balance/lock/private", json{{"credential", "test-user-3"}, {"amount", 2}}, server::auth({{"Idempotency-Key", "req-keyed"}}));
  REQUIRE(keyed);
  REQUIRE(keyed->status == 200);
  r.keyed_lock = json::parse(keyed->body).at("lock_id").get<std::string>();
  r.open.push_back(s.lock("did:nil:carol", 1.5_cr, "/v1/balance/lock/public"));

  std::mutex m;
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", s.port);
      client.set_read_timeout(std::chrono::seconds(10));
      const std::string user = t % 2 == 0 ? "test-user-1" : "test-user-2";
      for (int i = 0; i < rounds; ++i) {
        auto res = client.Post("/v1/balance/lock/private", server::auth(), json{{"credential", user}, {"amount", 1}}.dump(), "application/json");
        if (!res || res->status != 200) continue;
        const std::string id = json::parse(res->body).at("lock_id");
        if (i % 3 == 2) {  // some stay open
          std::lock_guard guard(m);
          r.open.push_back(id);
          continue;
        }
        const credits cost = credits::from_micros(100'000 * (t + 1) + i);
        auto done = client.Post("/v1/balance/unlock", server::auth(), json{{"lock_id", id}, {"real_cost", cost}}.dump(), "application/json");
        if (done && done->status == 200) {
          std::lock_guard guard(m);
          r.settled.emplace_back(id, cost);
        }
      }
    });
  for (auto& w : workers) w.join();
  REQUIRE(r.settled.size() >= static_cast<std::size_t>(rounds));
  return r;
}

// After a restart: the same observable state, settled locks replay, open locks settle once, the
// idempotency key answers the same lock, public/private marks and credential ids survive.
void check_restored(server& s, const json& before, const workload_result& r) {
  CHECK(observable_state(s) == before);
  for (const auto& [id, cost] : r.settled) {
    auto replay = s.unlock(id, cost);
    REQUIRE(replay);
    CHECK(replay->status == 200);
    CHECK(json::parse(replay->body).at("replayed") == true);
  }
  auto keyed = s.post("/v1/balance/lock/private", json{{"credential", "test-user-3"}, {"amount", 2}}, server::auth({{"Idempotency-Key", "req-keyed"}}));
  REQUIRE(keyed);
  CHECK(keyed->status == 200);
  CHECK(json::parse(keyed->body).at("lock_id") == r.keyed_lock);
  expect_error(s.post("/v1/balance/lock/private", json{{"credential", "did:nil:carol"}, {"amount", 1}}), 404);
  auto again = s.post("/v1/credential", json{{"user_id", "carol"}, {"credential_key", "did:nil:carol"}, {"is_public", true}});
  REQUIRE(again);
  CHECK(json::parse(again->body).at("credential_id") == r.carol_credential_id);
  CHECK(observable_state(s) == before);  // all of that was replays: nothing moved
  for (const auto& id : r.open) REQUIRE(s.unlock(id, 0.25_cr)->status == 200);
}

std::vector<std::string> journal_files(const temp_dir& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename().string().find(".journal.") != std::string::npos) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Where each frame of a journal segment starts.
std::vector<std::uint64_t> frame_offsets(const std::string& path, std::uint64_t number) {
  std::vector<std::uint64_t> out;
  const std::string bytes = read_file(path);
  (void)tollgate::detail::scan_journal_segment(bytes, path, number, [&](std::string_view, std::uint64_t at) {
    if (out.empty() || out.back() != at) out.push_back(at);
  });
  return out;
}

// Where the data of a journal segment ends (the zeros preallocated after it are not data).
std::uint64_t data_end(const std::string& path, std::uint64_t number) {
  return tollgate::detail::scan_journal_segment(read_file(path), path, number, [](std::string_view, std::uint64_t) {}).good_end;
}

// A start expected to fail: the exit code, and what it wrote to stderr.
std::pair<int, std::string> failed_start(const temp_dir& dir, const std::string& state) {
  const std::string err = dir.file("stderr.txt");
  std::remove(err.c_str());
  tollgate::testing::child_process process({TOLLGATE_CREDIT_SERVER_BINARY, "--port", "0", "--token", token, "--state", state}, {}, err);
  CHECK_THROWS(process.read_line());
  const int status = process.stop(SIGTERM);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), read_file(err)};
}

}  // namespace

TEST_CASE("credit_server: with --state, SIGKILL loses no acknowledged change: the restarted state equals the state before the kill") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  json before;
  workload_result r;
  {
    server s({"--state", state});
    r = run_workload(s);
    before = observable_state(s);
    s.process.stop(SIGKILL);  // no shutdown: only what the journal made durable survives
  }
  // The first start wrote an empty snapshot; every change since is in the journal.
  CHECK(json::parse(read_file(state)).at("ledger").at("users").empty());
  CHECK(journal_files(state_dir) == std::vector<std::string>{"ledger.json.journal.1"});
  CHECK(read_file(state_dir.file("ledger.json.journal.1")).find(token) == std::string::npos);

  server s({"--state", state});
  check_restored(s, before, r);
  // And once more, killed again after the restart's own changes.
  const json after = observable_state(s);
  s.process.stop(SIGKILL);
  server again({"--state", state});
  CHECK(observable_state(again) == after);
}

TEST_CASE("credit_server: compaction: with a tiny --compact-after the state is snapshotted many times, and a killed server restarts equal") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  json before;
  workload_result r;
  {
    server s({"--state", state, "--compact-after", "600"});
    r = run_workload(s, 30);
    // The compactions run on a thread of their own; more changes keep coming meanwhile.
    for (int i = 0; i < 20; ++i) REQUIRE(s.post("/v1/users/topup", json{{"user_id", "test-user-3"}, {"amount", 0.001}})->status == 200);
    before = observable_state(s);
    s.process.stop(SIGKILL);
  }
  REQUIRE(std::filesystem::exists(state));
  const json snapshot = json::parse(read_file(state));
  CHECK(snapshot.at("version") == 2);
  CHECK(snapshot.at("journal_segment").get<int>() > 3);  // compacted several times
  CHECK(snapshot.contains("written_at_ms"));
  server s({"--state", state, "--compact-after", "600"});
  check_restored(s, before, r);
  // Segments before the snapshot's are superseded. The kill may land between the snapshot's
  // rename and their removal, so only after the restart are they certainly gone.
  const int first_kept = snapshot.at("journal_segment").get<int>();
  for (const auto& name : journal_files(state_dir)) CHECK(std::stoi(name.substr(name.rfind('.') + 1)) >= first_kept);
}

TEST_CASE("credit_server: a journal whose last record was torn by the crash loads to the state before that record") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  const std::string segment = state_dir.file("ledger.json.journal.1");
  json before_last;
  std::uint64_t last_frame = 0, end = 0;
  {
    server s({"--state", state});
    s.lock("test-user-1", 4_cr);
    before_last = observable_state(s);
    REQUIRE(s.post("/v1/users/topup", json{{"user_id", "test-user-2"}, {"amount", 3}})->status == 200);  // the last record
    s.process.stop(SIGKILL);
  }
  last_frame = frame_offsets(segment, 1).back();
  end = data_end(segment, 1);
  std::string whole = read_file(segment);
  whole.resize(end);
  for (const std::uint64_t cut : {last_frame + 1, last_frame + 4, last_frame + 8, (last_frame + end) / 2, end - 1}) {
    CAPTURE(cut);
    std::ofstream(segment, std::ios::binary | std::ios::trunc) << whole.substr(0, cut);
    {
      server s({"--state", state});
      CHECK(observable_state(s) == before_last);
      CHECK(std::filesystem::file_size(segment) == last_frame);  // the torn bytes are cut off (nothing written yet)
      REQUIRE(s.post("/v1/users/topup", json{{"user_id", "test-user-3"}, {"amount", 1}})->status == 200);
      const json after = observable_state(s);
      s.process.stop(SIGKILL);
      server again({"--state", state});  // what was appended after the repair reads back
      CHECK(observable_state(again) == after);
      again.process.stop(SIGKILL);
    }
  }
}

TEST_CASE("credit_server: a damaged journal or snapshot stops it at startup, naming the file and the place") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  const std::string segment = state_dir.file("ledger.json.journal.1");
  {
    server s({"--state", state});
    s.lock("test-user-1", 1_cr);
    s.lock("test-user-1", 2_cr);
    s.process.stop(SIGKILL);
  }
  const std::string good = read_file(segment);
  const auto frames = frame_offsets(segment, 1);
  REQUIRE(frames.size() >= 3);
  std::string damaged = good;
  damaged[frames[1] + 10] = static_cast<char>(damaged[frames[1] + 10] ^ 0x20);  // a frame with good ones after it
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << damaged;
  auto [code, message] = failed_start(state_dir, state);
  CHECK(code == 1);
  CHECK(message.find(segment) != std::string::npos);
  CHECK(message.find(fmt::format("offset {}", frames[1])) != std::string::npos);
  CHECK(read_file(segment) == damaged);  // left as it was, for a human to look at

  // A missing segment between the snapshot and a later one.
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << good;
  std::filesystem::rename(segment, state_dir.file("ledger.json.journal.2"));
  std::tie(code, message) = failed_start(state_dir, state);
  CHECK(code == 1);
  CHECK(message.find("ledger.json.journal.1") != std::string::npos);
  std::filesystem::remove(state_dir.file("ledger.json.journal.2"));

  // A snapshot record that does not parse: the message names the record.
  std::ofstream(state) << R"({"format": "tollgate-credit-server-state", "version": 2, "journal_segment": 1, "written_at_ms": 0,
    "ledger": {"users": [{"user_id": "u", "available": 1}], "credentials": [],
               "locks": [{"lock_id": "lk_broken", "user_id": "u", "expires_in_ms": 1000, "idempotency_key": ""}], "settled": []},
    "credentials": []})";
  std::tie(code, message) = failed_start(state_dir, state);
  CHECK(code == 1);
  CHECK(message.find("locks[0]") != std::string::npos);
  CHECK(message.find("lk_broken") != std::string::npos);
  CHECK(message.find("amount") != std::string::npos);
}

TEST_CASE("credit_server: removing the state file starts afresh; its journal is moved aside, never replayed onto nothing") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  {
    server s({"--state", state, "--compact-after", "300"});
    for (int i = 0; i < 10; ++i) s.lock("test-user-1", 1_cr);
    s.process.stop(SIGKILL);
  }
  const auto left = journal_files(state_dir);
  REQUIRE_FALSE(left.empty());
  std::filesystem::remove(state);
  server s({"--state", state});
  CHECK(s.balance("test-user-1") == 100_cr);  // the seed again, nothing replayed
  CHECK(s.summary().at("locks").empty());
  for (const auto& name : left) CHECK(std::filesystem::exists(state_dir.file(name + ".orphaned")));
  CHECK(json::parse(read_file(state)).at("version") == 2);
}

TEST_CASE("credit_server: a version-1 state file of the old server still loads, and the journal continues after it") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  // As the previous version wrote it: rewritten in full after every change, no journal.
  std::ofstream(state) << R"({"format": "tollgate-credit-server-state", "version": 1,
    "ledger": {
      "users": [{"user_id": "old-alice", "available": 40.5}, {"user_id": "old-bob", "available": 3}],
      "credentials": [{"credential": "sk-old-alice", "user_id": "old-alice"}, {"credential": "did:nil:old-bob", "user_id": "old-bob"}],
      "locks": [{"lock_id": "lk_0123456789abcdef0123456789abcdef", "user_id": "old-alice", "amount": 2.5,
                 "expires_in_ms": 250000, "idempotency_key": ""}],
      "settled": [{"lock_id": "lk_ffffffffffffffffffffffffffffffff", "charged": 1.25, "expired": false,
                   "idempotency_key": "", "locked": 0}]},
    "credentials": [{"key": "sk-old-alice", "credential_id": "cred_a", "is_public": false},
                    {"key": "did:nil:old-bob", "credential_id": "cred_b", "is_public": true}]})";
  json after;
  {
    server s({"--state", state});
    CHECK(s.balance("old-alice") == 40.5_cr);
    CHECK(s.balance("old-bob") == 3_cr);
    CHECK(summary_user(s.summary(), "old-alice").at("held").get<credits>() == 2.5_cr);
    auto replay = s.unlock("lk_ffffffffffffffffffffffffffffffff", 1.25_cr);
    REQUIRE(replay);
    CHECK(replay->status == 200);
    CHECK(json::parse(replay->body).at("replayed") == true);
    expect_error(s.post("/v1/balance/lock/private", json{{"credential", "did:nil:old-bob"}, {"amount", 1}}), 404);
    s.lock("did:nil:old-bob", 1_cr, "/v1/balance/lock/public");
    REQUIRE(s.unlock("lk_0123456789abcdef0123456789abcdef", 2_cr)->status == 200);
    after = observable_state(s);
    s.process.stop(SIGKILL);
  }
  CHECK(json::parse(read_file(state)).at("version") == 1);  // untouched: the changes went to the journal
  {
    server s({"--state", state});
    CHECK(observable_state(s) == after);
    CHECK(s.balance("old-alice") == 41_cr);
    s.process.stop(SIGTERM);  // a clean stop writes a version-2 snapshot
  }
  CHECK(json::parse(read_file(state)).at("version") == 2);
  server s({"--state", state});
  CHECK(observable_state(s) == after);
}

TEST_CASE("credit_server: a lock's TTL keeps running while the server is down, from the snapshot and from the journal") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  std::string from_snapshot, from_journal;
  {
    server s({"--state", state, "--lock-ttl", "0.5"});
    from_snapshot = s.lock("test-user-1", 5_cr);
    s.process.stop(SIGTERM);  // into the snapshot
  }
  {
    server s({"--state", state, "--lock-ttl", "0.5"});
    from_journal = s.lock("test-user-2", 6_cr);
    s.process.stop(SIGKILL);  // only in the journal
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // down for longer than the TTL
  server s({"--state", state, "--lock-ttl", "0.5"});
  expect_error(s.unlock(from_snapshot, 1_cr), 404);
  expect_error(s.unlock(from_journal, 1_cr), 404);
  CHECK(s.balance("test-user-1") == 100_cr);
  CHECK(s.balance("test-user-2") == 100_cr);
  CHECK(s.summary().at("locks").empty());
}

TEST_CASE("credit_service: a failed fdatasync answers 500; a snapshot ends the failure and the retried call is answered once") {
  temp_dir state_dir;
  const std::string state = state_dir.file("ledger.json");
  std::string lock_id;
  {
    tollgate::credit_service service(tollgate::memory_ledger_options{}, tollgate::redacted(token), tollgate::logger::silent(),
                                     {.state_file = state});
    service.apply_seed(json::parse(seed_json));
    httplib::Server http;
    service.mount(http);
    const int port = http.bind_to_any_port("127.0.0.1");
    std::thread listener([&] { http.listen_after_bind(); });
    httplib::Client client("127.0.0.1", port);
    const auto lock = [&] {
      return client.Post("/v1/balance/lock/private", server::auth({{"Idempotency-Key", "req-during-failure"}}),
                         json{{"credential", "test-user-1"}, {"amount", 4}}.dump(), "application/json");
    };

    service.store()->journal().fail_next_syncs(1);
    const std::string message = expect_error(lock(), 500);
    CHECK(message.find("retry") != std::string::npos);
    // The compaction thread writes a snapshot of the memory state, which ends the failure.
    for (int i = 0; i < 500 && service.store()->journal().failure(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE_FALSE(service.store()->journal().failure());
    CHECK(service.store()->compactions() >= 1);

    auto retried = lock();  // the same idempotent call: the first lock, now durable
    REQUIRE(retried);
    CHECK(retried->status == 200);
    lock_id = json::parse(retried->body).at("lock_id").get<std::string>();
    auto balance = client.Get("/v1/users/test-user-1", server::auth());
    REQUIRE(balance);
    CHECK(json::parse(balance->body).at("balance").get<credits>() == 96_cr);  // held once
    http.stop();
    listener.join();
  }
  // Restored from the recovery snapshot and the segment after it.
  tollgate::credit_service service(tollgate::memory_ledger_options{}, tollgate::redacted(token), tollgate::logger::silent(),
                                   {.state_file = state});
  CHECK(service.ledger().balance("test-user-1") == 96_cr);
  CHECK(service.ledger().settle(lock_id, 1_cr).has_value());
  CHECK(service.ledger().balance("test-user-1") == 99_cr);
}

namespace {
// A ledger's summary without the clock.
std::string ledger_picture(tollgate::memory_ledger& ledger) {
  std::string out;
  const auto s = ledger.summary();
  for (const auto& u : s.users) out += u.user_id + " " + u.available.to_string() + " " + u.held.to_string() + "\n";
  for (const auto& l : s.locks) out += l.lock_id + " " + l.user_id + " " + l.amount.to_string() + "\n";
  return out;
}
}  // namespace

TEST_CASE("credit_service: the journal's last record cut at every byte offset restores the state before that record") {
  temp_dir live, copy;
  const std::string state = live.file("ledger.json");
  std::string before_last, snapshot_text, segment_text;
  {
    tollgate::credit_service service(tollgate::memory_ledger_options{}, tollgate::redacted(token), tollgate::logger::silent(),
                                     {.state_file = state});
    service.apply_seed(json::parse(seed_json));
    auto& ledger = service.ledger();
    const auto a = ledger.lock("test-user-1", 5_cr, "");
    REQUIRE(a);
    REQUIRE(ledger.lock("test-user-2", 7_cr, "key-1"));
    REQUIRE(ledger.settle(a->lock_id, 1.5_cr));
    service.save();
    before_last = ledger_picture(ledger);
    REQUIRE(ledger.lock("test-user-3", 2.25_cr, ""));  // the last record
    service.save();
    // What a crash right now would leave on disk.
    snapshot_text = read_file(state);
    segment_text = read_file(state + ".journal.1");
    segment_text.resize(data_end(state + ".journal.1", 1));
  }
  const std::string segment = copy.file("ledger.json.journal.1");
  std::ofstream(segment, std::ios::binary) << segment_text;
  const auto frames = frame_offsets(segment, 1);
  REQUIRE(frames.size() >= 2);
  for (std::uint64_t cut = frames.back(); cut <= segment_text.size(); ++cut) {
    CAPTURE(cut);
    for (const auto& e : std::filesystem::directory_iterator(copy.path)) std::filesystem::remove(e.path());
    std::ofstream(copy.file("ledger.json"), std::ios::binary) << snapshot_text;
    std::ofstream(segment, std::ios::binary) << segment_text.substr(0, cut);
    tollgate::credit_service restored(tollgate::memory_ledger_options{}, tollgate::redacted(token), tollgate::logger::silent(),
                                      {.state_file = copy.file("ledger.json")});
    if (cut == segment_text.size()) {
      CHECK(ledger_picture(restored.ledger()) != before_last);  // the whole record: it is there
      CHECK(restored.ledger().balance("test-user-3") == 97.75_cr);
    } else {
      CHECK(ledger_picture(restored.ledger()) == before_last);
    }
  }
}
