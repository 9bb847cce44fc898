// JSON through nlohmann::json: the one number rule and the one layout of every JSON report faceid
// writes (evaluate, unlock_sim, train_pad). Reports are built as objects and dumped here, never
// formatted by hand.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace faceid {

// Objects keep their members in insertion order: a report lists its keys as documented.
using Json = nlohmann::ordered_json;

// `value` as a JSON number, or null when it is NaN or infinite (JSON has no such numbers): a
// metric that could not be computed reads null, never `nan`. Full (round-trip) precision.
Json json_number(double value);

// The report layout: the top-level members one a line, indented by two spaces; a nested object or
// array on one line (`{"a": 1, "b": 2}`) when it holds only scalars, otherwise one member a line,
// two spaces deeper. Ends with a newline. Invalid UTF-8 in strings is replaced, never thrown on.
std::string dump_json(const Json& value);

}  // namespace faceid
