// SPDX-License-Identifier: MIT
// memory_credit_store: the credit service's storage in a memory_ledger, optionally made durable by
// a snapshot and a group-committed journal (state_store).
#ifndef TOLLGATE_SERVICE_MEMORY_CREDIT_STORE_HPP
#define TOLLGATE_SERVICE_MEMORY_CREDIT_STORE_HPP

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <tollgate/detail/random_id.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/logging/logger.hpp>
#include <tollgate/service/credit_store.hpp>
#include <tollgate/service/state_file.hpp>
#include <tollgate/service/state_store.hpp>

namespace tollgate {

/// One process's credit store. With a state file, the ledger's changes and the credentials'
/// marks are journaled, and wait_durable() returns once they are on disk.
class memory_credit_store final : public credit_store {
 public:
  /// Serves an existing ledger, in memory only.
  explicit memory_credit_store(memory_ledger& ledger) : ledger_(ledger) {}

  /// Builds its own ledger from `ledger_options` and, with a `state_file`, restores the state
  /// (snapshot and journal) and journals every change. Throws std::runtime_error for a state that
  /// cannot be read or is damaged (never starts empty on top of a damaged file).
  memory_credit_store(memory_ledger_options ledger_options, const std::string& state_file, std::uint64_t compact_after_bytes, logger log)
      : state_(state_file.empty() ? nullptr
                                  : std::make_unique<detail::state_store>(
                                        detail::state_store_options{.snapshot_path = state_file, .compact_after_bytes = compact_after_bytes},
                                        std::move(log))),
        owned_ledger_(std::make_unique<memory_ledger>(journaled(std::move(ledger_options)))),
        ledger_(*owned_ledger_) {
    if (state_) state_->open(ledger_, marks_, [this] {
      std::lock_guard guard(marks_mutex_);
      return marks_;
    });
  }
  /// Stops the journal's compaction thread and writes what is still buffered.
  ~memory_credit_store() override {
    if (state_) state_->stop();
  }

  [[nodiscard]] memory_ledger& ledger() noexcept { return ledger_; }
  /// The durable store, or nullptr without a state file.
  [[nodiscard]] detail::state_store* state() noexcept { return state_.get(); }

  result<std::optional<service_credential>> find_credential(std::string_view key) override {
    auto owner = ledger_.owner_of(key);
    if (!owner) return std::optional<service_credential>{};
    std::lock_guard guard(marks_mutex_);
    const auto mark = marks_.find(std::string(key));
    if (mark == marks_.end()) return std::optional<service_credential>{service_credential{std::move(*owner), {}, false}};
    return std::optional<service_credential>{service_credential{std::move(*owner), mark->second.credential_id, mark->second.is_public}};
  }

  result<service_registration> register_credential(std::string_view key_view, std::string_view user_id, bool is_public) override {
    const std::string key(key_view);
    std::lock_guard guard(marks_mutex_);  // registrations one at a time: check-then-add is atomic
    if (auto owner = ledger_.owner_of(key)) {
      auto it = marks_.find(key);
      detail::credential_mark mark = it != marks_.end() ? it->second : detail::credential_mark{};
      if (*owner == user_id && mark.credential_id.empty() && mark.is_public == is_public) {  // added behind the service's back: adopt it
        mark.credential_id = detail::random_id("cred_");
        mark_locked(key, mark);
      }
      return service_registration{{std::move(*owner), mark.credential_id, mark.is_public}, false};
    }
    // The mark goes in first, so the lock path never sees a public credential before it is marked
    // public (and the journal replays the mark before the ledger's credential_added).
    const detail::credential_mark mark{detail::random_id("cred_"), is_public};
    mark_locked(key, mark);
    if (!ledger_.add_credential(key, user_id)) {
      marks_.erase(key);
      if (state_) state_->record_unmark(key);
      return ledger_error{ledger_errc::unknown_credential, "the ledger refused the credential (unknown user)"};
    }
    return service_registration{{std::string(user_id), mark.credential_id, mark.is_public}, true};
  }

  result<lock_grant> lock(std::string_view credential, credits amount, std::string_view key) override { return ledger_.lock(credential, amount, key); }
  result<settlement> settle(std::string_view lock_id, credits real_cost) override { return ledger_.settle(lock_id, real_cost); }
  result<bool> add_user(std::string_view user_id, credits balance) override { return ledger_.add_user(user_id, balance); }
  result<std::optional<credits>> balance(std::string_view user_id) override { return ledger_.balance(user_id); }
  result<credits> top_up(std::string_view user_id, credits amount) override { return ledger_.top_up(user_id, amount); }
  result<ledger_summary> summary() override { return ledger_.summary(); }

  // Waits for the group commit that covers every change recorded so far.
  void wait_durable() override {
    if (!state_) return;
    try {
      state_->wait_durable(state_->last_recorded());
    } catch (const std::exception& e) {
      throw detail::service_save_failed(e.what());
    }
  }

  /// Makes every change so far durable (no-op without a state file); throws std::runtime_error.
  void save() {
    if (state_) state_->sync();
  }
  /// Writes a snapshot now and starts a new journal segment; throws std::runtime_error.
  void snapshot() {
    if (state_) state_->compact();
  }

 private:
  memory_ledger_options journaled(memory_ledger_options o) {
    if (!state_) return o;
    o.on_change = [store = state_.get(), also = std::move(o.on_change)](const ledger_change& change) {
      store->record(change);
      if (also) also(change);
    };
    return o;
  }

  // Sets a mark and journals it; under marks_mutex_, so the journal's order is the map's.
  void mark_locked(const std::string& key, const detail::credential_mark& mark) {
    marks_[key] = mark;
    if (state_) state_->record_mark(key, mark);
  }

  std::unique_ptr<detail::state_store> state_;    // before the ledger whose hook points at it
  std::unique_ptr<memory_ledger> owned_ledger_;  // when the store built its ledger
  memory_ledger& ledger_;
  std::mutex marks_mutex_;  // guards marks_; taken before a ledger lock, never after
  detail::credential_marks marks_;
};

}  // namespace tollgate

#endif  // TOLLGATE_SERVICE_MEMORY_CREDIT_STORE_HPP
