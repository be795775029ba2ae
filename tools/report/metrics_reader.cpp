// metrics.jsonl -> MetricsFile (see metrics_reader.h).
#include "tools/report/metrics_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace rlvr::tools {

namespace detail {

int replace_nonfinite_tokens(std::string& line) {
  static const char* const kTokens[] = {"-Infinity", "Infinity", "NaN"};
  int replaced = 0;
  bool in_string = false;
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) {
        out += line[i + 1];
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      ++i;
      continue;
    }
    bool matched = false;
    for (const char* token : kTokens) {
      const size_t n = std::strlen(token);
      if (line.compare(i, n, token) == 0) {
        out += "null";
        i += n;
        ++replaced;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (c == '-' || (c >= '0' && c <= '9')) {
      // A number literal; one that overflows a double (1e999) would fail the JSON parser.
      size_t end = i + 1;
      bool exponent = false;
      while (end < line.size() && std::strchr("0123456789.eE+-", line[end]) != nullptr) {
        exponent = exponent || line[end] == 'e' || line[end] == 'E';
        ++end;
      }
      const std::string literal = line.substr(i, end - i);
      if ((exponent || literal.size() > 300) && !std::isfinite(std::strtod(literal.c_str(), nullptr))) {
        out += "null";
        ++replaced;
      } else {
        out += literal;
      }
      i = end;
      continue;
    }
    out += c;
    ++i;
  }
  if (replaced > 0) line.swap(out);
  return replaced;
}

}  // namespace detail

namespace {

// Parses one line into `file`; returns an empty string on success, else what was wrong.
std::string parse_line(std::string line, MetricsFile& file) {
  detail::replace_nonfinite_tokens(line);  // they become null: counted below as non-finite
  nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) return fmt::format("not valid JSON: '{}'", excerpt(line));
  if (!row.is_object()) return fmt::format("expected a JSON object, got {}", row.type_name());
  auto step_it = row.find("step");
  if (step_it == row.end()) return "no \"step\" field; expected {\"step\": <integer>, <name>: <number>...}";
  if (!step_it->is_number() || !std::isfinite(step_it->get<double>())) {
    return fmt::format("\"step\" is {}; expected a finite number", excerpt(step_it->dump()));
  }
  const double step = step_it->get<double>();
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (it.key() == "step") continue;
    const auto& v = it.value();
    if (v.is_null()) {
      // MetricsWriter writes non-finite values as null (and NaN tokens became null above).
      ++file.nonfinite_values;
      continue;
    }
    if (!v.is_number()) continue;  // strings, flags, nested objects are not plotted
    const double x = v.get<double>();
    if (!std::isfinite(x)) {
      ++file.nonfinite_values;
      continue;
    }
    file.values[it.key()][step] = x;
  }
  file.steps.push_back(step);
  return {};
}

}  // namespace

MetricsFile parse_metrics_text(const std::string& text, const std::string& path) {
  MetricsFile file;
  file.path = path;
  size_t pos = 0;
  int64_t line_number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++file.lines;
    const std::string problem = parse_line(std::move(line), file);
    if (problem.empty()) {
      ++file.rows;
      continue;
    }
    ++file.skipped_lines;
    const std::string message = fmt::format("{}:{}: {}", path, line_number, problem);
    RLVR_LOG_WARN("report: skipped a malformed metrics line: {}", message);
    if (file.problems.size() < MetricsFile::kMaxProblems) file.problems.push_back(message);
  }
  std::sort(file.steps.begin(), file.steps.end());
  file.steps.erase(std::unique(file.steps.begin(), file.steps.end()), file.steps.end());
  return file;
}

MetricsFile read_metrics_file(const std::string& path) { return parse_metrics_text(core::read_file(path), path); }

}  // namespace rlvr::tools
