// Fuzzes the credit server's routes in-process: HTTP requests go through httplib's own parser and
// router (Server::process_request on an in-memory stream, no socket) to a credit_service.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/service/credit_service.hpp>

#include "fuzz_support.hpp"

namespace {

constexpr std::string_view token = "fuzz-token";

// One request in, the response out: httplib's Stream over two strings.
class memory_stream final : public httplib::Stream {
 public:
  explicit memory_stream(std::string_view request) : in_(request) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size());
    std::copy_n(in_.data(), n, ptr);
    in_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 40000; }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = "127.0.0.1", port = 3000; }
  socket_t socket() const override { return INVALID_SOCKET; }
  [[nodiscard]] const std::string& output() const noexcept { return out_; }

 private:
  std::string_view in_;
  std::string out_;
};

// process_request is protected: the only way in without a socket.
class in_process_server final : public httplib::Server {
 public:
  std::string handle(std::string_view request) {
    memory_stream stream(request);
    bool closed = false;
    (void)process_request(stream, /*close_connection=*/true, closed, [](httplib::Request&) {});
    return stream.output();
  }
};

struct reply {
  int status = 0;
  nlohmann::json body;
};

// The status and JSON body of a raw HTTP response (status 0 when httplib wrote none).
reply parse_response(const std::string& raw) {
  reply r;
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return r;
  r.status = std::stoi(raw.substr(9, 3));
  const auto body_at = raw.find("\r\n\r\n");
  TOLLGATE_FUZZ_CHECK(body_at != std::string::npos);
  r.body = nlohmann::json::parse(raw.substr(body_at + 4), nullptr, /*allow_exceptions=*/false);
  return r;
}

std::string http_request(std::string_view method, std::string_view path, std::string_view body, bool with_token) {
  std::string out = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: fuzz\r\n";
  if (with_token) out += "Authorization: Bearer " + std::string(token) + "\r\n";
  if (method == "POST")
    out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + std::string(body);
}

// Replaces every "$L" in `text` with the id of the last lock granted, so that unlock can name one.
std::string with_lock_id(std::string_view text, const std::string& lock_id) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == 'L') {
      out += lock_id;
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Every byte outside [A-Za-z0-9._~-] as %XX, as a client puts an id in a path.
std::string percent_encoded(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || c == '.' || c == '_' || c == '~' || c == '-') {
      out += c;
    } else {
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

const nlohmann::json& seed() {
  static const nlohmann::json s = nlohmann::json::parse(R"({"users": [
    {"user_id": "alice", "balance": 100, "credentials": [{"key": "sk-alice"}, {"key": "pk-alice", "is_public": true}]},
    {"user_id": "bob", "balance": 0.5, "credentials": [{"key": "sk-bob"}]}]})");
  return s;
}

// A fresh ledger, service and server per input, seeded the same way, so that every input replays
// alike (a shared one measured slower here: its growth makes libFuzzer run LeakSanitizer after
// every input).
struct fixture {
  tollgate::memory_ledger ledger{[] {
    tollgate::memory_ledger_options options;
    options.now = [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1000)); };
    return options;
  }()};
  tollgate::credit_service service{ledger, tollgate::redacted{std::string(token)},
                                   tollgate::logger(tollgate::log_level::debug, [](tollgate::log_level, std::string_view) {}),
                                   tollgate::credit_service_options{.max_body_bytes = 4096}};
  in_process_server server;

  fixture() {
    service.apply_seed(seed());
    service.mount(server);
  }
};

}  // namespace

// The input is up to 16 requests separated by 0xFF bytes. A request's first byte picks the route
// (low 4 bits) and flags (0x10: no bearer token; 0x20: the rest is a raw HTTP request, sent as it
// is); the rest is the JSON body (or the user id, for GET /v1/users/<id>; or a seed, for route 10+).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fixture f;
  auto& ledger = f.ledger;
  auto& service = f.service;
  auto& server = f.server;

  std::string last_lock = "lk_none";
  for (const auto request : tollgate_fuzz::split(tollgate_fuzz::as_text(data, size), '\xff', 16)) {
    if (request.empty()) continue;
    const auto selector = static_cast<unsigned char>(request[0]);
    const std::string rest = with_lock_id(request.substr(1), last_lock);
    const bool with_token = (selector & 0x10) == 0;
    if ((selector & 0x20) != 0) {
      (void)parse_response(server.handle(rest));
      continue;
    }
    std::string raw;
    switch (selector & 0x0f) {
      case 0: raw = http_request("GET", "/v1/health", "", with_token); break;
      case 1: raw = http_request("POST", "/v1/balance/lock/private", rest, with_token); break;
      case 2: raw = http_request("POST", "/v1/balance/lock/public", rest, with_token); break;
      case 3: raw = http_request("POST", "/v1/balance/unlock", rest, with_token); break;
      case 4: raw = http_request("GET", "/v1/summary", "", with_token); break;
      case 5: raw = http_request("POST", "/v1/users/topup", rest, with_token); break;
      case 6: raw = http_request("POST", "/v1/users", rest, with_token); break;
      case 7: raw = http_request("GET", "/v1/users/" + percent_encoded(rest), "", with_token); break;
      case 8: raw = http_request("POST", "/v1/credential", rest, with_token); break;
      case 9: raw = http_request("POST", "/v1/nowhere", rest, with_token); break;
      default: {
        const auto j = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) continue;
        try {
          (void)service.apply_seed(j);
        } catch (const std::invalid_argument&) {
        }
        continue;
      }
    }
    const reply r = parse_response(server.handle(raw));
    static const bool trace = std::getenv("TOLLGATE_FUZZ_TRACE") != nullptr;  // to check what a corpus input does
    if (trace) std::fprintf(stderr, "route %d %s -> %d %s\n", selector & 0x0f, rest.c_str(), r.status, r.body.dump().c_str());
    // Every well-formed request gets a status, and a JSON object body; none is an internal error.
    TOLLGATE_FUZZ_CHECK(r.status != 0);
    TOLLGATE_FUZZ_CHECK(r.body.is_object());
    TOLLGATE_FUZZ_CHECK(r.status != 500);
    const auto route = selector & 0x0f;
    // Without the token every route but health answers 401 (and GET /v1/users/<id with '/'>, no route: 404).
    if (!with_token && route != 0 && route != 7 && route != 9) TOLLGATE_FUZZ_CHECK(r.status == 401);
    if (r.status == 200 && r.body.contains("lock_id") && r.body["lock_id"].is_string())
      last_lock = r.body["lock_id"].get<std::string>();
  }

  // Whatever happened, the books balance: no amount went negative.
  for (const auto& u : ledger.summary().users) TOLLGATE_FUZZ_CHECK(!u.available.is_negative() && !u.held.is_negative());
  return 0;
}
