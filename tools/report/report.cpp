// The run report page (see report.h): run directory discovery, the stage table, summary facts
// and the metric charts.
#include "tools/report/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "tools/report/metrics_reader.h"
#include "tools/report/svg_chart.h"

namespace fs = std::filesystem;

namespace rlvr::tools {
namespace {

// Objects keep their file order (summary.json's fields as the writer put them).
using Json = nlohmann::ordered_json;

// --- plot catalogue -----------------------------------------------------------------------

// One chart: the metric names it draws (exact `keys` first, then every name starting with one
// of `prefixes`, sorted).
struct PlotSpec {
  const char* id;
  const char* title;
  const char* y_label;
  std::vector<std::string> keys;
  std::vector<std::string> prefixes;
};

const std::vector<PlotSpec>& plot_specs() {
  static const std::vector<PlotSpec> specs = {
      {"loss", "Loss", "loss", {"loss", "loss/policy"}, {}},
      {"reward", "Reward per dataset", "mean reward", {"reward/mean"}, {"reward/"}},
      {"accuracy", "Accuracy per dataset", "accuracy", {"accuracy"}, {"accuracy/"}},
      {"kl", "KL to the reference", "KL (token mean)", {"kl/k1", "kl/k3"}, {}},
      {"entropy", "Entropy", "entropy (token mean)", {"entropy"}, {}},
      {"length", "Response length", "tokens", {"length/mean"}, {}},
      {"staleness", "Staleness", "policy versions behind", {"staleness/mean", "staleness/max"}, {}},
      {"throughput", "Throughput", "tokens / s", {"tokens_per_second", "rollouts/generated_tokens_per_s"}, {}},
      {"busy", "Learner and actor busy time (1 - idle)", "fraction of time",
       {"learner/busy_fraction", "actors/generating_fraction"}, {}},
      {"dpo-accuracy", "DPO preference accuracy", "fraction chosen > rejected", {"rewards/accuracies"}, {}},
      {"dpo-margin", "DPO reward margin", "chosen - rejected reward", {"rewards/margins"}, {}},
  };
  return specs;
}

std::vector<std::string> names_for(const PlotSpec& spec, const MetricsFile& m) {
  std::vector<std::string> names;
  for (const auto& k : spec.keys) {
    if (m.has(k)) names.push_back(k);
  }
  for (const auto& p : spec.prefixes) {
    for (auto it = m.values.lower_bound(p); it != m.values.end() && it->first.compare(0, p.size(), p) == 0; ++it) {
      if (std::find(names.begin(), names.end(), it->first) == names.end()) names.push_back(it->first);
    }
  }
  return names;
}

std::string describe_keys(const PlotSpec& spec) {
  std::vector<std::string> parts = spec.keys;
  for (const auto& p : spec.prefixes) parts.push_back(p + "<dataset>");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// The series of metric `name`, broken where a step of the file lies between two of its points.
Series series_of(const MetricsFile& m, const std::string& name) {
  Series s;
  s.name = name;
  const auto& values = m.values.at(name);
  long prev_index = -1;
  for (const auto& [step, value] : values) {
    const long index = std::lower_bound(m.steps.begin(), m.steps.end(), step) - m.steps.begin();
    if (prev_index >= 0 && index - prev_index > 1) {
      s.x.push_back(step);
      s.y.push_back(std::nan(""));
    }
    s.x.push_back(step);
    s.y.push_back(value);
    prev_index = index;
  }
  return s;
}

// --- formatting ---------------------------------------------------------------------------

std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '-';
  return out;
}

std::string fmt_number(double v, int decimals) {
  if (!std::isfinite(v)) return "&ndash;";
  return fmt::format("{:.{}f}", v, decimals);
}

// A JSON value as table-cell text (escaped).
std::string fmt_json(const Json& v) {
  if (v.is_null()) return "&ndash;";
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number()) return html_escape(fmt::format("{:.6g}", v.get<double>()));
  return html_escape(excerpt(v.dump(), 200));
}

// The number at `obj[key]`, or nullopt when absent or not a number.
std::optional<double> number_at(const Json& obj, const std::string& key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string cell(const std::optional<double>& v, int decimals) {
  return v ? fmt_number(*v, decimals) : std::string("&ndash;");
}

// Reads a JSON file; on failure records a problem and returns nullopt.
std::optional<Json> read_json(const std::string& path, std::vector<std::string>& problems) {
  std::string text;
  try {
    text = core::read_file(path);
  } catch (const Error& e) {
    problems.push_back(e.what());
    RLVR_LOG_WARN("report: {}", e.what());
    return std::nullopt;
  }
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::string msg = fmt::format("{}: not valid JSON ({}); left out of the report", path, e.what());
    problems.push_back(msg);
    RLVR_LOG_WARN("report: {}", msg);
    return std::nullopt;
  }
}

void add_problem(std::vector<std::string>& problems, const std::string& msg) {
  problems.push_back(msg);
  RLVR_LOG_WARN("report: {}", msg);
}

// --- page parts ---------------------------------------------------------------------------

constexpr const char* kStyle = R"(
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1400px; margin: 1.5em auto; padding: 0 1.5em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
code, .path { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure.plot { margin: 0; border: 1px solid #e3e3e3; background: #fff; }
svg.chart text { font: 11px system-ui, Helvetica, Arial, sans-serif; fill: #333; }
svg.chart text.title { font-size: 13px; font-weight: 600; }
svg.chart .grid { stroke: #eee; } svg.chart .tick { stroke: #888; }
svg.chart .frame { fill: none; stroke: #888; }
.note { color: #555; font-size: 0.92em; }
.warnings { background: #fff6e0; border: 1px solid #e8c66a; padding: 0.4em 1em; }
)";

// The stage table from results.json.
std::string results_table(const Json& results, const std::string& path, std::vector<std::string>& problems) {
  if (!results.is_object() || !results.contains("rows") || !results["rows"].is_array()) {
    add_problem(problems, fmt::format("{}: expected an object with a \"rows\" array; the stage table is left out", path));
    return {};
  }
  std::vector<const Json*> rows;
  // Dataset columns: results.json's "datasets" order when given, then other names as they first
  // appear in the rows.
  std::vector<std::string> datasets;
  auto add_dataset = [&](const std::string& name) {
    if (std::find(datasets.begin(), datasets.end(), name) == datasets.end()) datasets.push_back(name);
  };
  if (results.contains("datasets") && results["datasets"].is_array()) {
    for (const auto& d : results["datasets"]) {
      if (d.is_string()) add_dataset(d.get<std::string>());
    }
  }
  std::vector<std::string> pass_keys;
  auto add_pass_keys = [&](const Json& stats) {
    if (!stats.is_object()) return;
    auto it = stats.find("pass_at_k");
    if (it == stats.end()) return;
    if (it->is_number()) {
      if (std::find(pass_keys.begin(), pass_keys.end(), "pass@k") == pass_keys.end()) pass_keys.push_back("pass@k");
    } else if (it->is_object()) {
      for (auto p = it->begin(); p != it->end(); ++p) {
        if (std::find(pass_keys.begin(), pass_keys.end(), p.key()) == pass_keys.end()) pass_keys.push_back(p.key());
      }
    }
  };
  const auto& all = results["rows"];
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& row = all[i];
    if (!row.is_object()) {
      add_problem(problems, fmt::format("{}: rows[{}] is {}; expected an object; row left out", path, i, row.type_name()));
      continue;
    }
    rows.push_back(&row);
    if (row.contains("datasets") && row["datasets"].is_object()) {
      for (auto it = row["datasets"].begin(); it != row["datasets"].end(); ++it) add_dataset(it.key());
    }
    if (row.contains("overall")) add_pass_keys(row["overall"]);
  }
  // pass@1 before pass@16: order by the number after '@'.
  auto k_of = [](const std::string& key) {
    const size_t at = key.find('@');
    try {
      return at == std::string::npos ? 0L : std::stol(key.substr(at + 1));
    } catch (const std::exception&) {
      return 0L;
    }
  };
  std::stable_sort(pass_keys.begin(), pass_keys.end(),
                   [&](const std::string& a, const std::string& b) { return k_of(a) < k_of(b); });

  std::string o = "<table class=\"results\">\n<tr><th class=\"name\">stage</th><th>accuracy (all)</th>";
  for (const auto& ds : datasets) o += fmt::format("<th>accuracy {}</th>", html_escape(ds));
  for (const auto& k : pass_keys) o += fmt::format("<th>{} (all)</th>", html_escape(k));
  o += "<th>mean length</th><th>no-EOS fraction</th><th>wall time (s)</th></tr>\n";
  for (const Json* rp : rows) {
    const auto& row = *rp;
    const Json overall = row.value("overall", Json::object());
    const Json per_ds = row.contains("datasets") ? row["datasets"] : Json::object();
    const std::string point = row.contains("point") && row["point"].is_string() ? row["point"].get<std::string>() : "?";
    o += fmt::format("<tr><td class=\"name\">{}</td><td>{}</td>", html_escape(point),
                     cell(number_at(overall, "accuracy"), 3));
    for (const auto& ds : datasets) {
      o += fmt::format("<td>{}</td>", cell(per_ds.is_object() && per_ds.contains(ds)
                                               ? number_at(per_ds[ds], "accuracy")
                                               : std::nullopt,
                                           3));
    }
    for (const auto& k : pass_keys) {
      std::optional<double> v;
      if (overall.is_object() && overall.contains("pass_at_k")) {
        const auto& p = overall["pass_at_k"];
        v = p.is_number() && k == "pass@k" ? std::optional<double>(p.get<double>()) : number_at(p, k);
      }
      o += fmt::format("<td>{}</td>", cell(v, 3));
    }
    o += fmt::format("<td>{}</td><td>{}</td><td>{}</td></tr>\n", cell(number_at(overall, "mean_length"), 1),
                     cell(number_at(overall, "truncated_rate"), 3), cell(number_at(row, "wall_s"), 1));
  }
  o += "</table>\n";
  o += "<p class=\"note\">From <span class=\"path\">results.json</span>: held-out evaluation after each stage "
       "(init = before the first). No-EOS fraction = share of responses cut at the length limit "
       "(truncated_rate); wall time = the stage's training time.</p>\n";
  const bool baselines = std::any_of(rows.begin(), rows.end(), [](const Json* r) { return r->contains("baseline_of"); });
  if (baselines) {
    o += "<p class=\"note\">A <em>-baseline</em> row is the honest comparison for the stage it names: SFT continued "
         "from the checkpoint that stage started from, for that stage's wall time (pipeline.baselines).</p>\n";
  }
  return o;
}

// summary.json as a two-column table: top-level scalars, and one level of nested objects as
// "parent.key" (the RL learner's accounting).
std::string summary_table(const Json& summary, const std::string& path, std::vector<std::string>& problems) {
  if (!summary.is_object()) {
    add_problem(problems, fmt::format("{}: expected a JSON object, got {}; left out", path, summary.type_name()));
    return {};
  }
  std::string o = "<table class=\"summary\">\n";
  for (auto it = summary.begin(); it != summary.end(); ++it) {
    if (it->is_object()) {
      for (auto sub = it->begin(); sub != it->end(); ++sub) {
        o += fmt::format("<tr><td class=\"name\">{}.{}</td><td class=\"name\">{}</td></tr>\n", html_escape(it.key()),
                         html_escape(sub.key()), fmt_json(sub.value()));
      }
    } else {
      o += fmt::format("<tr><td class=\"name\">{}</td><td class=\"name\">{}</td></tr>\n", html_escape(it.key()),
                       fmt_json(it.value()));
    }
  }
  o += "</table>\n";
  return o;
}

// The charts of one metrics file, with notes on left-out and downsampled charts.
std::string metrics_section(const MetricsFile& m, const std::string& stage, const ReportOptions& options) {
  std::string o;
  if (m.rows == 0) {
    return fmt::format("<p class=\"note\">{}: no metric rows; no plots.</p>\n", html_escape(m.path));
  }
  std::vector<std::string> absent, downsampled;
  o += "<div class=\"plots\">\n";
  for (const auto& spec : plot_specs()) {
    const std::vector<std::string> names = names_for(spec, m);
    if (names.empty()) {
      absent.push_back(fmt::format("{} ({})", spec.title, describe_keys(spec)));
      continue;
    }
    std::vector<Series> series;
    for (const auto& name : names) {
      Series s = series_of(m, name);
      const size_t n = s.point_count();
      if (n > options.max_points_per_line) {
        s = downsample_min_max(s, options.max_points_per_line);
        downsampled.push_back(fmt::format("{} ({} points)", name, n));
      }
      series.push_back(std::move(s));
    }
    ChartSpec chart;
    chart.title = stage.empty() ? spec.title : stage + ": " + spec.title;
    chart.y_label = spec.y_label;
    chart.id = "plot-" + (stage.empty() ? std::string() : slug(stage) + "-") + spec.id;
    o += render_line_chart(chart, series);
  }
  o += "</div>\n";
  if (!downsampled.empty()) {
    std::string list;
    for (const auto& d : downsampled) list += (list.empty() ? "" : ", ") + d;
    o += fmt::format(
        "<p class=\"note downsampled\">Downsampled to at most {} points per line (minimum and maximum of each of {} "
        "buckets of consecutive steps, so spikes stay visible): {}.</p>\n",
        options.max_points_per_line, options.max_points_per_line / 2, html_escape(list));
  }
  if (!absent.empty()) {
    std::string list;
    for (const auto& a : absent) list += (list.empty() ? "" : "; ") + a;
    o += fmt::format("<p class=\"note absent\">Not drawn, their metrics are absent from this run: {}.</p>\n",
                     html_escape(list));
  }
  return o;
}

void note_metrics_problems(const MetricsFile& m, std::vector<std::string>& problems) {
  if (m.skipped_lines > 0) {
    problems.push_back(fmt::format("{}: {} malformed line(s) skipped", m.path, m.skipped_lines));
    for (const auto& p : m.problems) problems.push_back(p);
    if (m.skipped_lines > static_cast<int64_t>(m.problems.size())) {
      problems.push_back(fmt::format("{}: ... and {} more", m.path, m.skipped_lines - static_cast<int64_t>(m.problems.size())));
    }
  }
  if (m.nonfinite_values > 0) {
    problems.push_back(fmt::format("{}: {} non-finite value(s) (null, NaN, Infinity) skipped", m.path, m.nonfinite_values));
  }
}

// One run directory (a stage of a pipeline, or the whole single run): summary facts + charts.
std::string run_section(const std::string& dir, const std::string& stage, const ReportOptions& options,
                        std::vector<std::string>& problems) {
  std::string o;
  const std::string summary_path = dir + "/summary.json";
  if (fs::exists(summary_path)) {
    if (auto summary = read_json(summary_path, problems)) o += summary_table(*summary, summary_path, problems);
  } else {
    o += "<p class=\"note\">No summary.json (the run has not finished).</p>\n";
  }
  const std::string metrics_path = dir + "/metrics.jsonl";
  if (!fs::exists(metrics_path)) {
    return o + "<p class=\"note\">No metrics.jsonl; no plots.</p>\n";
  }
  MetricsFile m;
  try {
    m = read_metrics_file(metrics_path);
  } catch (const Error& e) {
    add_problem(problems, e.what());
    return o;
  }
  note_metrics_problems(m, problems);
  return o + metrics_section(m, stage, options);
}

bool is_stage_dir(const std::string& dir) {
  return fs::is_directory(dir) && (fs::exists(dir + "/metrics.jsonl") || fs::exists(dir + "/summary.json"));
}

struct StageState {
  std::string name, status;
  std::optional<double> wall_s;
};

StageState stage_state(const std::string& name, const Json& s) {
  const auto status = s.is_object() ? s.find("status") : s.end();
  return {name, status != s.end() && status->is_string() ? status->get<std::string>() : std::string(),
          number_at(s, "wall_s")};
}

// The stages of state.json, in run order. Two shapes are read: a list
// {"stages": [{"name", "status", "wall_s"}, ...]} (in its order), and an object keyed by stage
// kind {"stages": {"sft": {"status", "wall_s", ...}, ...}} (order sft, dpo, rlvr, then others by
// name), which is what `rlvr pipeline` writes.
std::vector<StageState> stages_of_state(const Json& state, const std::string& path,
                                        std::vector<std::string>& problems) {
  std::vector<StageState> stages;
  const Json* list = state.is_object() && state.contains("stages") ? &state["stages"] : nullptr;
  if (list != nullptr && list->is_array()) {
    for (const auto& s : *list) {
      if (!s.is_object() || !s.contains("name") || !s["name"].is_string()) {
        add_problem(problems, fmt::format("{}: a stage without a \"name\" string: {}", path, excerpt(s.dump())));
        continue;
      }
      stages.push_back(stage_state(s["name"].get<std::string>(), s));
    }
  } else if (list != nullptr && list->is_object()) {
    for (const char* kind : {"sft", "dpo", "rlvr"}) {
      if (list->contains(kind)) stages.push_back(stage_state(kind, (*list)[kind]));
    }
    for (auto it = list->begin(); it != list->end(); ++it) {
      if (it.key() != "sft" && it.key() != "dpo" && it.key() != "rlvr") stages.push_back(stage_state(it.key(), *it));
    }
  } else {
    add_problem(problems, fmt::format("{}: expected {{\"stages\": [...]}} or {{\"stages\": {{<stage>: {{...}}}}}}", path));
  }
  return stages;
}

}  // namespace

// --- the page -----------------------------------------------------------------------------

std::string render_report(const std::string& run_dir, const ReportOptions& options) {
  RLVR_CHECK(options.max_points_per_line >= 2, "report: max_points_per_line must be >= 2, got {}",
             options.max_points_per_line);
  std::error_code ec;
  RLVR_CHECK(fs::exists(run_dir, ec), "report: run directory '{}' does not exist", run_dir);
  RLVR_CHECK(fs::is_directory(run_dir, ec), "report: '{}' is not a directory; expected a run directory", run_dir);

  std::vector<std::string> problems;
  // Stages, in order: those of state.json, else the stage kinds that have a directory.
  std::vector<StageState> stages;
  const std::string state_path = run_dir + "/state.json";
  const bool has_state = fs::exists(state_path);
  if (has_state) {
    if (auto state = read_json(state_path, problems)) stages = stages_of_state(*state, state_path, problems);
  }
  if (stages.empty()) {
    for (const char* kind : {"sft", "dpo", "rlvr"}) {
      if (is_stage_dir(run_dir + "/" + kind)) stages.push_back({kind, "", std::nullopt});
    }
  }
  const std::string results_path = run_dir + "/results.json";
  const bool has_results = fs::exists(results_path);
  const bool pipeline = has_results || has_state || !stages.empty();
  const bool single = fs::exists(run_dir + "/metrics.jsonl") || fs::exists(run_dir + "/summary.json");
  RLVR_CHECK(pipeline || single,
             "report: '{}' holds no metrics.jsonl (a run of rlvr train / rlvr launch) and no results.json, "
             "state.json or sft/, dpo/, rlvr/ stage directories (a pipeline run); expected a run directory",
             run_dir);

  const std::string name = fs::path(run_dir).lexically_normal().filename().string().empty()
                               ? fs::path(run_dir).lexically_normal().parent_path().filename().string()
                               : fs::path(run_dir).lexically_normal().filename().string();
  std::string body;
  if (pipeline) {
    body += "<h2 id=\"results\">Results</h2>\n";
    if (has_results) {
      if (auto results = read_json(results_path, problems)) body += results_table(*results, results_path, problems);
    } else {
      body += "<p class=\"note\">No results.json yet (the pipeline has not finished its evaluations).</p>\n";
    }
    for (const auto& st : stages) {
      if (st.name.empty() || slug(st.name) != st.name) {
        add_problem(problems, fmt::format("{}: stage name '{}' is not a directory name ([A-Za-z0-9_-]); left out",
                                          state_path, excerpt(st.name)));
        continue;
      }
      const std::string dir = run_dir + "/" + st.name;
      std::string heading = html_escape(st.name);
      std::string facts;
      if (!st.status.empty()) facts += html_escape(st.status);
      if (st.wall_s) facts += (facts.empty() ? "" : ", ") + fmt_number(*st.wall_s, 1) + " s";
      body += fmt::format("<h2 id=\"stage-{}\">Stage {}{}</h2>\n", slug(st.name), heading,
                          facts.empty() ? "" : " <small>(" + facts + ")</small>");
      if (!fs::is_directory(dir)) {
        body += "<p class=\"note\">No stage directory yet.</p>\n";
        continue;
      }
      body += run_section(dir, st.name, options, problems);
    }
  } else {
    body += "<h2 id=\"run\">Run</h2>\n";
    body += run_section(run_dir, "", options, problems);
  }

  std::string page;
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  page += fmt::format("<title>rlvr report: {}</title>\n<style>{}</style>\n</head>\n<body>\n", html_escape(name), kStyle);
  page += fmt::format("<h1>rlvr report: {}</h1>\n", html_escape(name));
  page += fmt::format("<p class=\"note\">{} <span class=\"path\">{}</span></p>\n",
                      pipeline ? "Pipeline run directory" : "Run directory", html_escape(run_dir));
  if (!problems.empty()) {
    page += "<div class=\"warnings\"><p><strong>Input problems</strong> (the report shows what could be read):</p>\n<ul>\n";
    for (const auto& p : problems) page += "<li>" + html_escape(p) + "</li>\n";
    page += "</ul></div>\n";
  }
  page += body;
  page += fmt::format("<p class=\"note\">Written by rlvr {} (<code>rlvr report</code>).</p>\n</body>\n</html>\n",
                      html_escape(RLVR_VERSION));
  return page;
}

void write_report(const std::string& run_dir, const std::string& out_path, const ReportOptions& options) {
  core::write_file_atomic(out_path, render_report(run_dir, options));
}

void write_report(const std::string& run_dir) { write_report(run_dir, run_dir + "/report.html"); }

}  // namespace rlvr::tools
