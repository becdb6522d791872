// flat_index, the memory ledger's hash index: a model check across many incremental growths.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <tollgate/detail/flat_index.hpp>

TEST_CASE("flat_index: inserts, erases and lookups agree with a model while the table grows in steps") {
  tollgate::detail::flat_index index;
  std::multimap<std::uint64_t, std::uint64_t> model;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> present;
  std::mt19937_64 random(20261206);
  std::uint64_t next_value = 0;
  // Few distinct hashes among many (collisions), and the reserved values 0 and 1 among them.
  const auto some_hash = [&]() -> std::uint64_t {
    switch (random() % 8) {
      case 0: return 0;
      case 1: return 1;
      case 2: return 2;
      case 3: return random() % 64;
      default: return random();
    }
  };
  for (int round = 0; round < 200'000; ++round) {
    const bool grow = round < 120'000;
    if (present.empty() || random() % 10 < (grow ? 7u : 4u)) {
      const std::uint64_t h = some_hash(), v = next_value++;
      index.insert(h, v);
      model.emplace(h, v);
      present.emplace_back(h, v);
    } else {
      const std::size_t at = random() % present.size();
      const auto [h, v] = present[at];
      present[at] = present.back();
      present.pop_back();
      CHECK(index.erase(h, v));
      CHECK_FALSE(index.erase(h, v));  // gone already
      const auto range = model.equal_range(h);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second == v) {
          model.erase(it);
          break;
        }
    }
    if (round % 997 == 0) {  // every present pair is found, and its hash finds nothing else
      for (std::size_t i = 0; i < present.size(); i += 1 + present.size() / 64) {
        const std::uint64_t h = present[i].first, v = present[i].second;  // clang 14 cannot capture bindings
        CHECK(index.find_if(h, [&](std::uint64_t candidate) { return candidate == v; }) == v);
        std::set<std::uint64_t> expected, seen;
        const auto range = model.equal_range(h);
        for (auto it = range.first; it != range.second; ++it) expected.insert(it->second);
        (void)index.find_if(h, [&](std::uint64_t candidate) {
          seen.insert(candidate);
          return false;
        });
        // Values whose stored hash differs only by the reserved 0/1/2 folding may share a bucket run.
        // One assertion per lookup, not one per expected value: the colliding hashes hold thousands
        // of values each, and millions of doctest CHECKs were most of this test's (Debug, TSan) time.
        std::size_t missing = 0;
        for (std::uint64_t e : expected) missing += seen.count(e) == 1 ? 0 : 1;
        CHECK_MESSAGE(missing == 0, "hash ", h, ": ", missing, " of ", expected.size(), " values not found");
      }
      CHECK(index.size() == model.size());
    }
  }
  CHECK(index.size() == model.size());
  index.clear();
  CHECK(index.size() == 0);
  CHECK_FALSE(index.find_if(2, [](std::uint64_t) { return true; }).has_value());
}
