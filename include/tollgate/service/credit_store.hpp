// SPDX-License-Identifier: MIT
// credit_store: where the credit service keeps users, credentials and locks (memory or Redis).
#ifndef TOLLGATE_SERVICE_CREDIT_STORE_HPP
#define TOLLGATE_SERVICE_CREDIT_STORE_HPP

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/ledger.hpp>
#include <tollgate/ledgers/ledger_error.hpp>
#include <tollgate/ledgers/ledger_summary.hpp>

namespace tollgate {

namespace detail {
/// The state changed but could not be saved; answered with 500 so the caller retries (every
/// mutating call is idempotent, and the retry succeeds once the change is saved).
struct service_save_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace detail

/// A credential as the credit service knows it: its owner, its id, and which lock path takes it.
struct service_credential {
  std::string user_id;
  std::string credential_id;  ///< empty for a credential added to the ledger behind the service's back
  bool is_public = false;
};

/// What credit_store::register_credential found or made.
struct service_registration {
  service_credential credential;
  bool created = false;  ///< made by this call; else it was registered before (maybe to someone else)
};

/// The credit service's storage. Implementations: memory_credit_store (memory_ledger, optionally
/// journaled to disk) and redis_credit_store (redis_ledger: several credit servers share one
/// Redis). Every call is safe from many threads; failures are ledger_errors (`unavailable` when
/// the store cannot be reached).
class credit_store {
 public:
  credit_store() = default;
  credit_store(const credit_store&) = delete;
  credit_store& operator=(const credit_store&) = delete;
  virtual ~credit_store() = default;

  virtual result<std::optional<service_credential>> find_credential(std::string_view key) = 0;
  /// Registers `key` for `user_id` (who exists) with a fresh id, unless it is registered already.
  virtual result<service_registration> register_credential(std::string_view key, std::string_view user_id, bool is_public) = 0;
  virtual result<lock_grant> lock(std::string_view credential, credits amount, std::string_view idempotency_key) = 0;
  virtual result<settlement> settle(std::string_view lock_id, credits real_cost) = 0;
  /// False when the user exists already (its balance is left alone).
  virtual result<bool> add_user(std::string_view user_id, credits balance) = 0;
  /// The available balance, or nullopt for an unknown user.
  virtual result<std::optional<credits>> balance(std::string_view user_id) = 0;
  virtual result<credits> top_up(std::string_view user_id, credits amount) = 0;
  virtual result<ledger_summary> summary() = 0;
  /// Returns once every change made so far is durable; throws detail::service_save_failed when it
  /// cannot be. A store whose every call is durable when it returns does nothing here.
  virtual void wait_durable() {}
};

}  // namespace tollgate

#endif  // TOLLGATE_SERVICE_CREDIT_STORE_HPP
