// The two credit-client transports as test flavours: each makes a credit_service_ledger over its
// transport, so one contract test runs against both (TEST_CASE_TEMPLATE).
#ifndef TOLLGATE_TESTS_SUPPORT_CREDIT_TRANSPORTS_HPP
#define TOLLGATE_TESTS_SUPPORT_CREDIT_TRANSPORTS_HPP

#include <memory>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <tollgate/adapters/beast/credit_transport.hpp>
#include <tollgate/ledgers/credit_service_ledger.hpp>

namespace tollgate::testing {

/// cpp-httplib's blocking client; the async forms on its worker pool.
struct httplib_transport_flavour {
  using ledger_type = credit_service_ledger;
  std::unique_ptr<ledger_type> make(credit_service_ledger_options o) { return std::make_unique<ledger_type>(std::move(o)); }
};

/// Boost.Beast's client; the async forms on one io_context thread, as in a one-loop server.
struct beast_transport_flavour {
  using ledger_type = beast::credit_service_ledger;
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(io);
  std::thread loop{[this] { io.run(); }};

  beast_transport_flavour() = default;
  beast_transport_flavour(const beast_transport_flavour&) = delete;
  beast_transport_flavour& operator=(const beast_transport_flavour&) = delete;
  ~beast_transport_flavour() {
    work.reset();
    io.stop();
    loop.join();
  }
  std::unique_ptr<ledger_type> make(credit_service_ledger_options o) { return std::make_unique<ledger_type>(std::move(o), io.get_executor()); }
};

}  // namespace tollgate::testing

#define TOLLGATE_CREDIT_TRANSPORTS tollgate::testing::httplib_transport_flavour, tollgate::testing::beast_transport_flavour

#endif  // TOLLGATE_TESTS_SUPPORT_CREDIT_TRANSPORTS_HPP
