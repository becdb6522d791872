// SPDX-License-Identifier: MIT
// redis_credit_store: the credit service's storage on Redis, so several credit servers behind one
// address share one state and any of them can be killed.
#ifndef TOLLGATE_SERVICE_REDIS_CREDIT_STORE_HPP
#define TOLLGATE_SERVICE_REDIS_CREDIT_STORE_HPP

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/detail/random_id.hpp>
#include <tollgate/ledgers/redis_ledger.hpp>
#include <tollgate/service/credit_store.hpp>

namespace tollgate {

/// A credit_store over a redis_ledger. Every call is durable as Redis is (run it with AOF
/// `appendfsync always` for no loss on a crash); the ledger must outlive the store.
class redis_credit_store final : public credit_store {
 public:
  explicit redis_credit_store(redis_ledger& ledger) : ledger_(ledger) {}

  result<std::optional<service_credential>> find_credential(std::string_view key) override {
    auto found = ledger_.find_credential(key);
    if (!found) return found.error();
    if (!*found) return std::optional<service_credential>{};
    return std::optional<service_credential>{converted(std::move(**found))};
  }
  result<service_registration> register_credential(std::string_view key, std::string_view user_id, bool is_public) override {
    auto made = ledger_.register_credential(key, user_id, is_public, detail::random_id("cred_"));
    if (!made) return made.error();
    return service_registration{converted(std::move(made->record)), made->created};
  }
  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) override { return ledger_.lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits real_cost) override { return ledger_.settle(lock_id, real_cost); }
  result<bool> add_user(std::string_view user_id, credits balance) override { return ledger_.add_user(user_id, balance); }
  result<std::optional<credits>> balance(std::string_view user_id) override {
    auto b = ledger_.balance(user_id);
    if (b) return std::optional<credits>{*b};
    if (b.error().code == ledger_errc::unknown_credential) return std::optional<credits>{};
    return b.error();
  }
  result<credits> top_up(std::string_view user_id, credits amount) override { return ledger_.top_up(user_id, amount); }
  result<ledger_summary> summary() override { return ledger_.summary(); }

 private:
  static service_credential converted(credential_record r) { return {std::move(r.user_id), std::move(r.credential_id), r.is_public}; }
  redis_ledger& ledger_;
};

}  // namespace tollgate

#endif  // TOLLGATE_SERVICE_REDIS_CREDIT_STORE_HPP
