// CSV tables read by header name: the first record names the columns and readers look columns up
// by those names, so a column added or moved never shifts what they read. Fields follow RFC 4180
// as csv_field writes them: a field may be double-quoted, a quote inside doubled, and a quoted
// field may hold commas and newlines. A CRLF line end reads as LF; blank lines are skipped.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace faceid {

class CsvTable {
 public:
  // Parses `text`; `source` (usually the file name) starts every error message. Throws
  // Errc::bad_input naming source and line for a text without a header, a record whose field
  // count differs from the header's, or a quote left open.
  CsvTable(std::string_view text, std::string source);

  // Reads and parses the file at `path` (Errc::bad_input naming it when it cannot be read).
  static CsvTable read(const std::filesystem::path& path);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  size_t rows() const { return rows_.size(); }

  // The index of the column named `name`. Errc::bad_input "<source>:1: no column '<name>'
  // (columns: a, b, ...)" when the header lacks it.
  size_t column(std::string_view name) const;

  // The field of data row `row` (0-based, header excluded) in column `column`.
  const std::string& text(size_t row, size_t column) const;

  // The field as a number (strtod syntax, the whole field; nan and inf included). Errc::bad_input
  // "<source>:<line>: <column name>: '<field>' is not a number" otherwise.
  double number(size_t row, size_t column) const;

  // The 1-based line of the file where data row `row` starts.
  size_t line(size_t row) const { return rows_.at(row).line; }

 private:
  struct Row {
    size_t line = 0;
    std::vector<std::string> fields;
  };
  std::string source_;
  std::vector<std::string> header_;
  std::vector<Row> rows_;
};

}  // namespace faceid
