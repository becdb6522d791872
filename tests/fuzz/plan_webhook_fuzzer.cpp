// Fuzzes the plan-change webhooks end to end (billing::stripe_plan_webhook, orb_plan_webhook):
// signature headers and bodies as anyone could send them, and bodies validly signed so that the
// event formats' JSON reading is reached too.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tollgate/billing/plan_webhook.hpp>
#include <tollgate/detail/hmac_sha256.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/plans/default_plans.hpp>
#include <tollgate/plans/plan_store.hpp>

#include "fuzz_support.hpp"

namespace {

constexpr std::string_view secret = "whsec_fuzz_0123456789";
constexpr std::int64_t fixed_now = 1'700'000'000;       // 2023-11-14T22:13:20Z
constexpr std::string_view fixed_now_iso = "2023-11-14T22:13:20.000";

tollgate::billing::webhook_options options() {
  return tollgate::billing::webhook_options::with_secret(tollgate::redacted{std::string(secret)})
      .with_logger(tollgate::logger::silent())
      .with_clock([] { return std::chrono::system_clock::time_point(std::chrono::seconds(fixed_now)); });
}

// Fresh per input, so replay memory and plans never carry over from one input to the next.
struct endpoints {
  std::shared_ptr<tollgate::plan_store<tollgate::default_plans>> store = std::make_shared<tollgate::plan_store<tollgate::default_plans>>();
  tollgate::billing::stripe_plan_webhook<> stripe{options(), store};
  tollgate::billing::orb_plan_webhook<> orb{options(), store};
};

std::string hex_hmac(std::string_view message) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char byte : tollgate::detail::hmac_sha256(secret, message)) {
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0xF]);
  }
  return out;
}

// What every answer must be: a known status, a JSON object, a `detail` on a refusal.
void check_reply(const tollgate::billing::reply& r, bool may_apply) {
  const int s = r.status;
  TOLLGATE_FUZZ_CHECK(s == 200 || s == 400 || s == 413 || s == 422 || s == 503);
  const auto body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  TOLLGATE_FUZZ_CHECK(body.is_object());
  if (s >= 400) TOLLGATE_FUZZ_CHECK(body.contains("detail") && body["detail"].is_string());
  if (!may_apply) TOLLGATE_FUZZ_CHECK(s != 200);  // unsigned bytes never pass the HMAC
}

tollgate::basic_request post(std::string body) {
  tollgate::basic_request req;
  req.with_method("POST").with_path("/billing/webhooks").with_body(std::move(body));
  return req;
}

}  // namespace

// The first byte picks a mode: 0 "Stripe-Signature\nbody" as sent; 1 "X-Orb-Timestamp\nX-Orb-Signature\nbody"
// as sent; 2 the rest is a body validly signed for Stripe; 3 the same for Orb.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto rest = tollgate_fuzz::as_text(data + 1, size - 1);
  endpoints e;
  switch (data[0] % 4) {
    case 0: {
      const auto parts = tollgate_fuzz::split(rest, '\n', 2);
      auto req = post(std::string(parts.size() > 1 ? parts[1] : std::string_view{}));
      req.with_header("Stripe-Signature", std::string(parts[0]));
      check_reply(e.stripe.handle(tollgate::request_ref(req)), false);
      break;
    }
    case 1: {
      const auto parts = tollgate_fuzz::split(rest, '\n', 3);
      auto req = post(std::string(parts.size() > 2 ? parts[2] : std::string_view{}));
      req.with_header("X-Orb-Timestamp", std::string(parts[0]));
      if (parts.size() > 1) req.with_header("X-Orb-Signature", std::string(parts[1]));
      check_reply(e.orb.handle(tollgate::request_ref(req)), false);
      break;
    }
    case 2: {
      auto req = post(std::string(rest));
      req.with_header("Stripe-Signature", "t=" + std::to_string(fixed_now) + ",v1=" + hex_hmac(std::to_string(fixed_now) + "." + std::string(rest)));
      const auto first = e.stripe.handle(tollgate::request_ref(req));
      check_reply(first, true);
      // The same delivery again changes nothing more: a duplicate, or the same refusal.
      const auto again = e.stripe.handle(tollgate::request_ref(req));
      check_reply(again, true);
      if (first.status != 200) TOLLGATE_FUZZ_CHECK(again.status == first.status);
      break;
    }
    default: {
      auto req = post(std::string(rest));
      req.with_header("X-Orb-Timestamp", std::string(fixed_now_iso));
      req.with_header("X-Orb-Signature", "v1=" + hex_hmac("v1:" + std::string(fixed_now_iso) + ":" + std::string(rest)));
      check_reply(e.orb.handle(tollgate::request_ref(req)), true);
      break;
    }
  }
  return 0;
}
