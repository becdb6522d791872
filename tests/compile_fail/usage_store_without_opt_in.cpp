// expect: this usage store does not opt in
// Must not compile: a type with a store's members but no usage_store_concept tag is not a store.
#include <cstdint>
#include <string_view>

#include <tollgate/extractors/from_header.hpp>
#include <tollgate/usage.hpp>

struct homemade_store {
  tollgate::result<tollgate::acquisition> try_acquire(std::string_view, std::string_view, std::int64_t, tollgate::limit_value, std::string_view);
  tollgate::result<tollgate::usage_release> release(std::string_view, std::string_view, std::int64_t, std::string_view);
  tollgate::result<tollgate::usage_release> cancel(std::string_view, std::string_view, std::string_view);
  tollgate::result<std::int64_t> usage(std::string_view, std::string_view);
};

int main() {
  homemade_store store;
  tollgate::tenant_limits<> plans;
  tollgate::limited<"deployments", tollgate::from_header<"tenant-id">> route{
      store, plans, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  (void)route;
}
