// Fuzzes the credit server's state file loader: state_snapshot_from_json, ledger_state_from_json, import_state.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <tollgate/ledgers/memory_ledger.hpp>
#include <tollgate/service/state_file.hpp>

#include "fuzz_support.hpp"

namespace {

tollgate::memory_ledger_options fixed_clock() {
  tollgate::memory_ledger_options o;
  o.now = [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1000)); };
  return o;
}

// Imports `state`; a state that does not hold together is refused with std::invalid_argument.
// What is accepted exports and reloads to the same document.
void check_import(const tollgate::memory_ledger_state& state) {
  tollgate::memory_ledger ledger(fixed_clock());
  try {
    ledger.import_state(state);
  } catch (const std::invalid_argument&) {
    return;
  }
  const auto exported = tollgate::detail::ledger_state_to_json(ledger.export_state());
  const auto reread = tollgate::detail::ledger_state_from_json(nlohmann::json::parse(exported.dump()));
  tollgate::memory_ledger again(fixed_clock());
  again.import_state(reread);
  TOLLGATE_FUZZ_CHECK(tollgate::detail::ledger_state_to_json(again.export_state()) == exported);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto doc = nlohmann::json::parse(tollgate_fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;

  // A whole state file, version 1 or 2.
  std::optional<tollgate::detail::state_snapshot> snapshot;
  try {
    snapshot = tollgate::detail::state_snapshot_from_json(doc);
  } catch (const std::exception&) {
  }
  if (snapshot) {
    // What loads writes back to a document that loads to the same thing. (A version-1 file has
    // no time; the store always stamps one before writing, and so does this.)
    if (!snapshot->written_at) snapshot->written_at = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 50));
    const auto written = tollgate::detail::state_snapshot_to_json(*snapshot);
    const auto reread = tollgate::detail::state_snapshot_from_json(nlohmann::json::parse(written.dump()));
    TOLLGATE_FUZZ_CHECK(tollgate::detail::state_snapshot_to_json(reread) == written);
    tollgate::detail::subtract_downtime(snapshot->ledger, std::chrono::milliseconds(90'000));
    check_import(snapshot->ledger);
  }

  // The ledger part alone (the fuzzer need not learn the envelope to reach it).
  try {
    check_import(tollgate::detail::ledger_state_from_json(doc));
  } catch (const std::runtime_error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
