// SPDX-License-Identifier: MIT
// The credit server's journal records: a ledger_change or a change to the service's credential marks, in binary.
#ifndef TOLLGATE_SERVICE_JOURNAL_RECORD_HPP
#define TOLLGATE_SERVICE_JOURNAL_RECORD_HPP

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <tollgate/credits.hpp>
#include <tollgate/ledgers/ledger_change.hpp>
#include <tollgate/service/journal_segment.hpp>

namespace tollgate::detail {

// A record is a type byte and fields; strings are a u32 LE length and bytes, numbers i64 LE:
//
//   1–6  a ledger_change of kind (type − 1): user_id, credential, lock_id, idempotency_key,
//        amount (micro-credits), at, expires_at (µs since the Unix epoch, system clock)
//   16   credential marked:    credential, credential_id, is_public (1 byte, 0 or 1)
//   17   credential unmarked:  credential
//
// Every field is always present, so a record is checked to be exactly as long as its fields.

/// What a journal record says.
struct journal_record {
  enum class type : std::uint8_t { ledger = 1, credential_marked = 16, credential_unmarked = 17 };
  type what = type::ledger;
  ledger_change change;            ///< for type::ledger; its views point into the record's bytes
  std::string_view credential;     ///< for the credential types
  std::string_view credential_id;  ///< for credential_marked
  bool is_public = false;          ///< for credential_marked
};

namespace journal_record_detail {
inline void put_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
inline void put_i64(std::string& out, std::int64_t v) { put_u64(out, static_cast<std::uint64_t>(v)); }
[[nodiscard]] inline std::int64_t micros_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// Reads fields in order; any overrun is std::invalid_argument.
struct reader {
  std::string_view rest;
  std::string_view string(const char* field) {
    if (rest.size() < 4) throw std::invalid_argument(fmt::format("the record ends inside the length of '{}'", field));
    const std::uint32_t n = get_u32(rest.data());
    if (n > rest.size() - 4) throw std::invalid_argument(fmt::format("the record ends inside '{}'", field));
    const std::string_view s = rest.substr(4, n);
    rest.remove_prefix(4 + n);
    return s;
  }
  std::int64_t i64(const char* field) {
    if (rest.size() < 8) throw std::invalid_argument(fmt::format("the record ends inside '{}'", field));
    const auto v = static_cast<std::int64_t>(get_u64(rest.data()));
    rest.remove_prefix(8);
    return v;
  }
  // µs since the epoch as a system_clock time; one the clock cannot hold (±292 years with
  // libstdc++'s nanoseconds) is damage, not an overflow.
  std::chrono::system_clock::time_point time(const char* field) {
    using clock_duration = std::chrono::system_clock::duration;
    constexpr auto per_micro = std::chrono::duration_cast<clock_duration>(std::chrono::microseconds(1)).count();
    const std::int64_t micros = i64(field);
    if (micros > clock_duration::max().count() / per_micro || micros < clock_duration::min().count() / per_micro)
      throw std::invalid_argument(fmt::format("'{}' is out of the clock's range", field));
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<clock_duration>(std::chrono::microseconds(micros)));
  }
};
}  // namespace journal_record_detail

/// Appends the record of a ledger change to `out`.
inline void encode_journal_record(std::string& out, const ledger_change& c) {
  using namespace journal_record_detail;
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(c.what) + 1));
  put_string(out, c.user_id);
  put_string(out, c.credential);
  put_string(out, c.lock_id);
  put_string(out, c.idempotency_key);
  put_i64(out, c.amount.micros());
  put_i64(out, micros_since_epoch(c.at));
  put_i64(out, micros_since_epoch(c.expires_at));
}

/// Appends the record "credential is marked {credential_id, is_public}" (the service's own state).
inline void encode_credential_marked(std::string& out, std::string_view credential, std::string_view credential_id, bool is_public) {
  using namespace journal_record_detail;
  out.push_back(static_cast<char>(journal_record::type::credential_marked));
  put_string(out, credential);
  put_string(out, credential_id);
  out.push_back(is_public ? '\1' : '\0');
}

/// Appends the record "credential has no mark any more".
inline void encode_credential_unmarked(std::string& out, std::string_view credential) {
  out.push_back(static_cast<char>(journal_record::type::credential_unmarked));
  journal_record_detail::put_string(out, credential);
}

/// Reads one record; throws std::invalid_argument saying what is wrong with it.
[[nodiscard]] inline journal_record decode_journal_record(std::string_view bytes) {
  using namespace journal_record_detail;
  if (bytes.empty()) throw std::invalid_argument("an empty record");
  const auto type = static_cast<std::uint8_t>(bytes[0]);
  reader in{bytes.substr(1)};
  journal_record r;
  if (type >= 1 && type <= 6) {
    r.what = journal_record::type::ledger;
    r.change.what = static_cast<ledger_change::kind>(type - 1);
    r.change.user_id = in.string("user_id");
    r.change.credential = in.string("credential");
    r.change.lock_id = in.string("lock_id");
    r.change.idempotency_key = in.string("idempotency_key");
    r.change.amount = credits::from_micros(in.i64("amount"));
    r.change.at = in.time("at");
    r.change.expires_at = in.time("expires_at");
    if (r.change.user_id.empty()) throw std::invalid_argument(fmt::format("a {} record without a user id", to_string(r.change.what)));
  } else if (type == static_cast<std::uint8_t>(journal_record::type::credential_marked)) {
    r.what = journal_record::type::credential_marked;
    r.credential = in.string("credential");
    r.credential_id = in.string("credential_id");
    if (in.rest.empty()) throw std::invalid_argument("the record ends before 'is_public'");
    const auto flag = static_cast<std::uint8_t>(in.rest[0]);
    if (flag > 1) throw std::invalid_argument("'is_public' is neither 0 nor 1");
    r.is_public = flag == 1;
    in.rest.remove_prefix(1);
  } else if (type == static_cast<std::uint8_t>(journal_record::type::credential_unmarked)) {
    r.what = journal_record::type::credential_unmarked;
    r.credential = in.string("credential");
  } else {
    throw std::invalid_argument(fmt::format("unknown record type {}", type));
  }
  if (!in.rest.empty()) throw std::invalid_argument(fmt::format("{} bytes after the record's last field", in.rest.size()));
  return r;
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_SERVICE_JOURNAL_RECORD_HPP
