// expect: an event format's `read\(...\)` must return tollgate::billing::plan_change_read
// An event format whose read() answers something else is named once.
#include <tollgate/billing/plan_webhook.hpp>

struct bool_format {
  using plan_change_format_concept = tollgate::billing::plan_change_format_t;
  bool read(const nlohmann::json&) const;
};

tollgate::billing::reply use(const tollgate::request_ref& request, std::shared_ptr<tollgate::plan_store<tollgate::default_plans>> store) {
  tollgate::billing::plan_webhook<tollgate::default_plans, tollgate::webhooks::stripe_signature, bool_format> webhook{
      tollgate::billing::webhook_options{}, std::move(store)};
  return webhook.handle(request);
}
