#include "faceid/core/json.hpp"

#include <cmath>

namespace faceid {
namespace {

std::string scalar_text(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

bool holds_containers(const Json& value) {
  for (const auto& element : value) {
    if (element.is_structured()) return true;
  }
  return false;
}

void write(const Json& value, int depth, std::string& out) {
  if (!value.is_structured()) {
    out += scalar_text(value);
    return;
  }
  const bool object = value.is_object();
  const bool one_line = value.empty() || (depth > 0 && !holds_containers(value));
  const std::string indent(2 * static_cast<size_t>(depth + 1), ' ');
  out += object ? '{' : '[';
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    out += first ? "" : ",";
    out += one_line ? (first ? "" : " ") : "\n" + indent;
    first = false;
    if (object) out += scalar_text(Json(it.key())) + ": ";
    write(it.value(), depth + 1, out);
  }
  if (!one_line) out += "\n" + indent.substr(2);
  out += object ? '}' : ']';
}

}  // namespace

Json json_number(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

std::string dump_json(const Json& value) {
  std::string out;
  write(value, 0, out);
  out += '\n';
  return out;
}

}  // namespace faceid
