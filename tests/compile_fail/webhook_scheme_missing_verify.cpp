// expect: this signature scheme is missing `verify\(const signed_delivery&\) const`
// A scheme that opts in but cannot verify is named once, at the plan_webhook that uses it.
#include <tollgate/billing/plan_webhook.hpp>

struct half_scheme {
  using signature_scheme_concept = tollgate::webhooks::signature_scheme_t;
  static constexpr std::string_view name = "half";
};

tollgate::billing::reply use(const tollgate::request_ref& request, std::shared_ptr<tollgate::plan_store<tollgate::default_plans>> store) {
  tollgate::billing::plan_webhook<tollgate::default_plans, half_scheme, tollgate::billing::orb_subscription_events> webhook{
      tollgate::billing::webhook_options{}, std::move(store)};
  return webhook.handle(request);
}
