#include "faceid/core/csv.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

namespace faceid {
namespace {

// Splits `text` into records of fields, each with the line it starts on; blank lines give none.
struct Record {
  size_t line = 0;
  std::vector<std::string> fields;
};

std::vector<Record> split_records(std::string_view text, const std::string& source) {
  std::vector<Record> records;
  Record record;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // the current field was quoted (an empty quoted field is a field)
  size_t line = 1;
  size_t quote_line = 0;
  auto end_record = [&] {
    if (!record.fields.empty() || !field.empty() || was_quoted) {
      record.fields.push_back(std::move(field));
      records.push_back(std::move(record));
    }
    record = Record{};
    field.clear();
    was_quoted = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (record.fields.empty() && field.empty() && !was_quoted) record.line = line;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      record.fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n') {
      end_record();
      ++line;
    } else if (c == '\r' && (i + 1 == text.size() || text[i + 1] == '\n')) {
      // the CR of a CRLF line end
    } else {
      field += c;
    }
  }
  if (quoted) throw_bad_input(fmt::format("{}:{}: a quoted field is never closed", source, quote_line));
  end_record();
  return records;
}

}  // namespace

CsvTable::CsvTable(std::string_view text, std::string source) : source_(std::move(source)) {
  std::vector<Record> records = split_records(text, source_);
  if (records.empty()) throw_bad_input(fmt::format("{}: empty, expected a CSV header line", source_));
  header_ = std::move(records.front().fields);
  rows_.reserve(records.size() - 1);
  for (size_t i = 1; i < records.size(); ++i) {
    Record& r = records[i];
    if (r.fields.size() != header_.size()) {
      throw_bad_input(fmt::format("{}:{}: {} field(s), the header has {}", source_, r.line,
                                  r.fields.size(), header_.size()));
    }
    rows_.push_back(Row{r.line, std::move(r.fields)});
  }
}

CsvTable CsvTable::read(const std::filesystem::path& path) {
  return CsvTable(read_file(path), path.string());
}

size_t CsvTable::column(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == name) return i;
  }
  throw_bad_input(fmt::format("{}:1: no column '{}' (columns: {})", source_, name,
                              fmt::join(header_, ", ")));
}

const std::string& CsvTable::text(size_t row, size_t column) const {
  return rows_.at(row).fields.at(column);
}

double CsvTable::number(size_t row, size_t column) const {
  const std::string& field = text(row, column);
  char* end = nullptr;
  const double value = std::strtod(field.c_str(), &end);
  if (field.empty() || end != field.c_str() + field.size()) {
    throw_bad_input(fmt::format("{}:{}: {}: '{}' is not a number", source_, rows_[row].line,
                                header_[column], field));
  }
  return value;
}

}  // namespace faceid
