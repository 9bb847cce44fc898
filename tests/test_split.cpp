#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "faceid/data/split.hpp"
#include "faceid/core/error.hpp"

using faceid::DataConfig;
using faceid::Dataset;
using faceid::Error;
using faceid::split_persons;

namespace {

Dataset make_dataset(int persons) {
  Dataset d;
  d.root = "/data/vap";
  for (int i = 0; i < persons; ++i) {
    faceid::Person p;
    p.identity = fmt::format("person_{:02d}", i);
    d.persons.push_back(p);
  }
  return d;
}

std::string error_of(const Dataset& d, const DataConfig& c) {
  try {
    split_persons(d, c);
  } catch (const Error& e) {
    CHECK(e.code() == faceid::Errc::bad_input);
    return e.what();
  }
  FAIL("expected faceid::Error");
  return {};
}

}  // namespace

TEST_CASE("split: fraction gives disjoint, complete, sorted, seeded sets", "[split]") {
  const Dataset d = make_dataset(10);
  DataConfig c;
  c.val_fraction = 0.2;
  c.split_seed = 7;
  const auto s = split_persons(d, c);
  REQUIRE(s.val.size() == 2);
  REQUIRE(s.train.size() == 8);
  std::set<std::string> all(s.train.begin(), s.train.end());
  for (const auto& v : s.val) CHECK(all.insert(v).second);  // disjoint
  CHECK(all.size() == 10);
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));
  CHECK(std::is_sorted(s.val.begin(), s.val.end()));
  // Golden: splitmix64 makes the split the same on every platform and standard library.
  CHECK(s.val == std::vector<std::string>{"person_03", "person_08"});

  const auto again = split_persons(d, c);
  CHECK(again.val == s.val);
  CHECK(again.train == s.train);

  std::set<std::vector<std::string>> distinct;
  for (int seed = 0; seed < 20; ++seed) {
    c.split_seed = seed;
    distinct.insert(split_persons(d, c).val);
  }
  CHECK(distinct.size() >= 10);  // the seed matters
}

TEST_CASE("split: rounding keeps at least 1 validation and 2 training persons", "[split]") {
  DataConfig c;
  c.val_fraction = 0.01;
  CHECK(split_persons(make_dataset(10), c).val.size() == 1);
  c.val_fraction = 0.25;
  CHECK(split_persons(make_dataset(10), c).val.size() == 3);  // round(2.5) = 3
  c.val_fraction = 0.9;
  const auto s = split_persons(make_dataset(3), c);
  CHECK(s.val.size() == 1);
  CHECK(s.train.size() == 2);
  CHECK(error_of(make_dataset(2), c) ==
        "dataset /data/vap has 2 persons; training needs at least 2 training and 1 validation "
        "person");
}

TEST_CASE("split: an explicit validation list is honoured, a bad one refused", "[split]") {
  const Dataset d = make_dataset(5);
  DataConfig c;
  c.val_persons = {"person_03", "person_01"};
  const auto s = split_persons(d, c);
  CHECK(s.val == std::vector<std::string>{"person_01", "person_03"});
  CHECK(s.train == std::vector<std::string>{"person_00", "person_02", "person_04"});

  c.val_persons = {"person_01", "nobody"};
  CHECK(error_of(d, c) == "data.val_persons: unknown person 'nobody' in dataset /data/vap");
  c.val_persons = {"person_01", "person_01"};
  CHECK(error_of(d, c) == "data.val_persons: 'person_01' is listed twice");
  c.val_persons = {"person_00", "person_01", "person_02", "person_03"};
  CHECK(error_of(d, c) ==
        "dataset /data/vap has 5 persons; training needs at least 2 training and 1 validation "
        "person");
}
