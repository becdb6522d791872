// expect: this credit transport is missing `async_send\(const credit_request&, handler\)`
// A transport with a blocking send only: the ledger names the missing async form, once.
#include <tollgate/ledgers/basic_credit_service_ledger.hpp>

struct blocking_only_transport {
  using credit_transport_concept = tollgate::credit_transport_t;
  explicit blocking_only_transport(const tollgate::credit_transport_settings&) {}
  tollgate::result<tollgate::credit_reply> send(const tollgate::credit_request&);
};

void use(tollgate::credit_service_ledger_options options) { tollgate::basic_credit_service_ledger<blocking_only_transport> ledger(options); }
