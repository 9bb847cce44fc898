#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "test_util.hpp"

#include "faceid/core/csv.hpp"
#include "faceid/core/fs.hpp"
#include "faceid/core/json.hpp"
#include "faceid/eval/evaluation.hpp"
#include "faceid/eval/pad_metrics.hpp"
#include "faceid/eval/unlock_sim.hpp"
#include "faceid/train/trainer.hpp"

using faceid::CsvTable;
using faceid::Json;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const auto& message_of = faceid::test::bad_input_message;
}  // namespace

TEST_CASE("json: NaN and infinity are null, numbers keep full precision", "[json]") {
  CHECK(faceid::json_number(kNaN).is_null());
  CHECK(faceid::json_number(kInf).is_null());
  CHECK(faceid::json_number(-kInf).is_null());
  const double third = 1.0 / 3.0;
  const Json j = Json::parse(faceid::dump_json(Json{{"x", faceid::json_number(third)}}));
  CHECK(j.at("x").get<double>() == third);  // round trip, not 6 digits
}

TEST_CASE("json: the report layout", "[json]") {
  Json j;
  j["a"] = 1;
  j["flat"] = Json{{"0.001", 0.5}, {"1e-04", faceid::json_number(kNaN)}};
  j["nested"] = Json{{"photo", Json{{"n", 4}, {"ok", true}}}};
  j["empty"] = Json::object();
  j["list"] = Json::array({1, 2});
  j["name"] = "x\"y";
  CHECK(faceid::dump_json(j) ==
        "{\n"
        "  \"a\": 1,\n"
        "  \"flat\": {\"0.001\": 0.5, \"1e-04\": null},\n"
        "  \"nested\": {\n"
        "    \"photo\": {\"n\": 4, \"ok\": true}\n"
        "  },\n"
        "  \"empty\": {},\n"
        "  \"list\": [1, 2],\n"
        "  \"name\": \"x\\\"y\"\n"
        "}\n");
}

TEST_CASE("json: a NaN metric in a report is null, and the report parses", "[json]") {
  faceid::EvaluationReport eval;
  eval.roc.eer = kNaN;
  eval.roc.auc = 0.75;
  eval.roc.genuine_pairs = 3;
  faceid::FarPoint p;
  p.target = 1e-3;
  p.tar = kNaN;
  p.far_upper_bound_95 = 0.5;
  eval.roc.at_far.push_back(p);
  const std::string text = faceid::evaluation_json(eval);
  CHECK_THAT(text, Catch::Contains("\"eer\": null") && Catch::Contains("\"tar_at_far\": {\"0.001\": null}"));
  const Json e = Json::parse(text);
  CHECK(e.at("auc").get<double>() == 0.75);
  CHECK(e.at("genuine_pairs").get<int>() == 3);
  CHECK(e.at("far_upper_bound_95").at("0.001").get<double>() == 0.5);
  std::vector<std::string> keys;
  for (auto it = e.begin(); it != e.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"eer", "eer_threshold", "auc", "tar_at_far", "genuine_pairs",
                                         "impostor_pairs", "far_upper_bound_95", "exact"});

  faceid::UnlockSimReport unlock;
  unlock.threshold = kNaN;
  unlock.genuine_attempts = 2;
  unlock.frr = 0.5;
  const Json u = Json::parse(faceid::unlock_report_json(unlock));
  CHECK(u.at("threshold").is_null());
  CHECK(u.at("frr").get<double>() == 0.5);
  CHECK(u.at("far").is_null());  // no impostor attempts

  faceid::PadReport pad;
  pad.bpcer = kNaN;
  faceid::AttackTypeMetrics photo;
  photo.type = "photo";
  photo.apcer = kNaN;
  pad.attacks.push_back(photo);
  const Json d = Json::parse(faceid::pad_report_json(pad));
  CHECK(d.at("bpcer").is_null());
  CHECK(d.at("attacks").at("photo").at("apcer").is_null());
}

TEST_CASE("csv: columns by header name, quoted fields, numbers", "[csv]") {
  const CsvTable t("b,a,note\r\n1,2.5,plain\n\n3,nan,\"x, \"\"y\"\"\nz\"\n", "t.csv");
  CHECK(t.header() == std::vector<std::string>{"b", "a", "note"});
  REQUIRE(t.rows() == 2);
  CHECK(t.column("a") == 1);
  CHECK(t.number(0, t.column("a")) == 2.5);
  CHECK(t.number(0, t.column("b")) == 1.0);
  CHECK(std::isnan(t.number(1, t.column("a"))));
  CHECK(t.text(1, t.column("note")) == "x, \"y\"\nz");
  CHECK(t.line(0) == 2);
  CHECK(t.line(1) == 4);  // the blank line 3 is skipped
}

TEST_CASE("csv: errors name the source, the line and the column", "[csv]") {
  const CsvTable t("epoch,loss\n1,0.5\n2,abc\n", "m.csv");
  CHECK_THAT(message_of([&] { t.column("val_eer"); }),
             Catch::Contains("m.csv:1") && Catch::Contains("no column 'val_eer'") &&
                 Catch::Contains("epoch, loss"));
  CHECK_THAT(message_of([&] { t.number(1, t.column("loss")); }),
             Catch::Contains("m.csv:3") && Catch::Contains("loss") && Catch::Contains("'abc'"));
  CHECK_THAT(message_of([] { CsvTable("a,b\n1,2\n3\n", "short.csv"); }),
             Catch::Contains("short.csv:3") && Catch::Contains("1 field(s)"));
  CHECK_THAT(message_of([] { CsvTable("a\n\"open\n", "q.csv"); }), Catch::Contains("q.csv:2"));
  CHECK_THAT(message_of([] { CsvTable("", "empty.csv"); }), Catch::Contains("empty.csv"));
  CHECK_THAT(message_of([] { CsvTable::read("/nonexistent/metrics.csv"); }),
             Catch::Contains("/nonexistent/metrics.csv"));
}

TEST_CASE("csv: a metrics.csv row reads back by name", "[csv][train]") {
  faceid::EpochMetrics m;
  m.epoch = 3;
  m.step = 150;
  m.lr = 2.5e-4;
  m.eer = 0.125;
  m.train_loss = 0.75;
  const auto dir = std::filesystem::temp_directory_path() / "faceid-test-csv-metrics";
  std::filesystem::create_directories(dir);
  const auto path = dir / "metrics.csv";
  faceid::write_file_atomic(path, faceid::metrics_csv_header() + "\n" + faceid::metrics_csv_row(m) + "\n");
  const CsvTable t = CsvTable::read(path);
  REQUIRE(t.rows() == 1);
  CHECK(t.number(0, t.column("epoch")) == 3);
  CHECK(t.number(0, t.column("lr")) == 2.5e-4);
  CHECK(t.number(0, t.column("val_eer")) == 0.125);
  CHECK(t.number(0, t.column("train_loss")) == 0.75);
}
