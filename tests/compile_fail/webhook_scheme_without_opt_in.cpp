// expect: this signature scheme does not opt in: add `using signature_scheme_concept = tollgate::webhooks::signature_scheme_t;`
// A type with the right members but no opt-in tag is not a signature scheme by accident; named once.
#include <tollgate/billing/plan_webhook.hpp>

struct lookalike_scheme {
  static constexpr std::string_view name = "mine";
  tollgate::webhooks::signature_check verify(const tollgate::webhooks::signed_delivery&) const;
};

tollgate::billing::reply use(const tollgate::request_ref& request, std::shared_ptr<tollgate::plan_store<tollgate::default_plans>> store) {
  tollgate::billing::plan_webhook<tollgate::default_plans, lookalike_scheme, tollgate::billing::stripe_subscription_events> webhook{
      tollgate::billing::webhook_options{}, std::move(store)};
  return webhook.handle(request);
}
