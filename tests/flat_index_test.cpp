// flat_index, the memory ledger's hash index: a model check across many incremental growths.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <tollgate/detail/flat_index.hpp>

TEST_CASE("flat_index: inserts, erases and lookups agree with a model while the table grows in steps") {
  tollgate::detail::flat_index index;
  // The model: the values stored under each hash. (A multimap of hash -> value made every erase and
  // every check walk all the values of a colliding hash; this test then took most of a minute.)
  std::map<std::uint64_t, std::set<std::uint64_t>> model;
  std::size_t model_size = 0;
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
  // TOLLGATE_FLAT_INDEX_ROUNDS shortens it where each step is slow and adds nothing (the TSan tree:
  // this test is single-threaded); fewer rounds still take the table through many growths (the
  // peak is reported).
  const char* rounds_text = std::getenv("TOLLGATE_FLAT_INDEX_ROUNDS");
  const long rounds = rounds_text != nullptr && *rounds_text != '\0' ? std::strtol(rounds_text, nullptr, 10) : 200'000;
  REQUIRE(rounds >= 1'000);
  MESSAGE("flat_index model check: ", rounds, " rounds (TOLLGATE_FLAT_INDEX_ROUNDS)");
  std::size_t peak = 0;
  for (long round = 0; round < rounds; ++round) {
    const bool grow = round < rounds * 3 / 5;
    if (present.empty() || random() % 10 < (grow ? 7u : 4u)) {
      const std::uint64_t h = some_hash(), v = next_value++;
      index.insert(h, v);
      model[h].insert(v);
      ++model_size;
      present.emplace_back(h, v);
      peak = std::max(peak, present.size());
    } else {
      const std::size_t at = random() % present.size();
      const auto [h, v] = present[at];
      present[at] = present.back();
      present.pop_back();
      CHECK(index.erase(h, v));
      CHECK_FALSE(index.erase(h, v));  // gone already
      const auto values = model.find(h);
      values->second.erase(v);
      if (values->second.empty()) model.erase(values);
      --model_size;
    }
    if (round % 997 == 0) {  // every present pair is found, and its hash finds nothing else
      for (std::size_t i = 0; i < present.size(); i += 1 + present.size() / 64) {
        const std::uint64_t h = present[i].first, v = present[i].second;  // clang 14 cannot capture bindings
        CHECK(index.find_if(h, [&](std::uint64_t candidate) { return candidate == v; }) == v);
        const std::set<std::uint64_t>& expected = model.at(h);
        std::vector<std::uint64_t> seen;
        (void)index.find_if(h, [&](std::uint64_t candidate) {
          seen.push_back(candidate);
          return false;
        });
        std::sort(seen.begin(), seen.end());
        // Values whose stored hash differs only by the reserved 0/1/2 folding may share a bucket run.
        // One assertion per lookup, not one per expected value: the colliding hashes hold thousands
        // of values each (18.7 million doctest assertions otherwise).
        std::size_t missing = 0;
        for (std::uint64_t e : expected) missing += std::binary_search(seen.begin(), seen.end(), e) ? 0 : 1;
        CHECK_MESSAGE(missing == 0, "hash ", h, ": ", missing, " of ", expected.size(), " values not found");
      }
      CHECK(index.size() == model_size);
    }
  }
  MESSAGE("flat_index model check: at most ", peak, " entries at once");
  CHECK(peak >= std::size_t{10'000});  // the table then doubles from 16 to 32 768 buckets: eleven incremental growths
  CHECK(index.size() == model_size);
  index.clear();
  CHECK(index.size() == 0);
  CHECK_FALSE(index.find_if(2, [](std::uint64_t) { return true; }).has_value());
}
