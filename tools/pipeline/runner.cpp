// The pipeline runner (runner.h): stages and evaluations as supervised child processes, their
// status in RUN/state.json, the stage table at the end.
#include "tools/pipeline/runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/loader.h"
#include "core/config/generation_defaults.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "tools/launch/supervisor.h"

namespace rlvr::tools {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Keys that may change between runs of a finished stage without making it a different stage.
bool volatile_key(const std::string& key) {
  return key == "run.log_level" || key == "run.threads" || key == "actors.threads" || key.rfind("learner.", 0) == 0 ||
         key.rfind("security.", 0) == 0;
}

json settings_of(const core::Config& config) {
  json out = json::object();
  for (const auto& [k, v] : core::flatten_config(config)) {
    if (!volatile_key(k)) out[k] = v;
  }
  return out;
}

// The keys whose values differ between two settings_of() results. A key only one side has (a
// key added to or removed from the schema since the stage ran) counts as its default value there,
// so a new key left at its default does not make a finished stage a different one.
std::vector<std::string> changed_settings(const json& before, const json& after) {
  static const json defaults = settings_of(core::Config{});
  auto value = [](const json& side, const std::string& key) {
    if (side.contains(key)) return side[key].get<std::string>();
    return defaults.contains(key) ? defaults[key].get<std::string>() : std::string("(unset)");
  };
  std::vector<std::string> changes;
  auto check = [&](const std::string& key) {
    const std::string was = value(before, key), now = value(after, key);
    if (was != now) changes.push_back(fmt::format("{}: {} -> {}", key, was, now));
  };
  for (auto it = after.begin(); it != after.end(); ++it) check(it.key());
  for (auto it = before.begin(); it != before.end(); ++it) {
    if (!after.contains(it.key())) check(it.key());
  }
  return changes;
}

// "a: 1 -> 2, b: x -> y" (at most 6 named).
std::string describe_changes(const std::vector<std::string>& changes) {
  const size_t shown = std::min<size_t>(changes.size(), 6);
  std::string out;
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + changes[i];
  if (changes.size() > shown) out += fmt::format(" and {} more", changes.size() - shown);
  return out;
}

class Runner {
 public:
  Runner(const core::PipelineConfig& p, PipelineRunOptions o)
      : p_(p), o_(std::move(o)), run_(p.pipeline.output_dir) {}

  int run() {
    // Our lines interleave with the children's (which write to the same terminal or file): flush
    // each one.
    std::cout << std::unitbuf;
    fs::create_directories(run_ + "/eval");
    core::write_file_atomic(run_ + "/pipeline.yaml", core::read_file(p_.path));
    load_state();
    apply_from();
    std::string model = p_.pipeline.model;
    if (!p_.pipeline.init.model_config.empty()) {
      if (int rc = init(model); rc != 0) return rc;
    } else {
      RLVR_CHECK(fs::exists(model + "/config.json"), "{}: pipeline.model: '{}' has no config.json", p_.path, model);
    }
    write_heldout();
    if (int rc = evaluate("init", model, 0); rc != 0) return rc;
    for (size_t i = 0; i < p_.stages.size(); ++i) {
      const std::string start = model;
      if (int rc = stage(i, model); rc != 0) return rc;
      if (has_baseline(i)) {
        if (int rc = baseline(i, start); rc != 0) return rc;
      }
    }
    write_results();
    std::cout << "\n" << results_markdown(run_);
    // The report is a convenience: a failure to write it does not fail the pipeline.
    const int rc = child("report", {o_.rlvr_binary, "report", run_}, "");
    if (rc != 0) RLVR_LOG_WARN("pipeline: `rlvr report {}` failed (exit {}); the results are in {}/results.md", run_, rc, run_);
    std::cout << fmt::format("pipeline '{}' done: {}/results.md, {}/report.html\n", p_.pipeline.name, run_, run_);
    return 0;
  }

 private:
  void load_state() {
    const std::string path = run_ + "/state.json";
    state_ = json::object();
    if (fs::exists(path)) {
      try {
        state_ = json::parse(core::read_file(path));
      } catch (const json::exception& e) {
        throw Error(fmt::format("{}: not valid JSON ({}); it records which stages finished: restore it or choose "
                                "another pipeline.output_dir",
                                path, e.what()));
      }
      RLVR_CHECK(state_.is_object(), "{}: expected a JSON object", path);
    }
    if (!state_.contains("stages")) state_["stages"] = json::object();
    if (!state_.contains("evals")) state_["evals"] = json::object();
  }
  void save_state() { core::write_file_atomic(run_ + "/state.json", state_.dump(2) + "\n"); }

  // --from: that stage and every later one start again; their directories are moved aside.
  void apply_from() {
    if (o_.from.empty()) return;
    size_t idx = p_.stages.size();
    for (size_t i = 0; i < p_.stages.size(); ++i) {
      if (p_.stages[i].kind == o_.from) idx = i;
    }
    if (idx == p_.stages.size()) {
      std::vector<std::string> kinds;
      for (const auto& s : p_.stages) kinds.push_back(s.kind);
      throw Error(fmt::format("--from {}: the pipeline has no such stage; its stages: {}", o_.from, fmt::join(kinds, ", ")));
    }
    for (size_t i = 0; i < idx; ++i) {
      const auto& kind = p_.stages[i].kind;
      if (stage_status(kind) != "done" || !fs::exists(run_ + "/" + kind + "/final/config.json")) {
        throw Error(fmt::format("--from {}: the earlier stage '{}' has not finished in {}; run without --from (or "
                                "--from {})",
                                o_.from, kind, run_, kind));
      }
    }
    for (size_t i = idx; i < p_.stages.size(); ++i) {
      const auto& kind = p_.stages[i].kind;
      move_aside(run_ + "/" + kind);
      move_aside(run_ + "/" + kind + "-baseline");
      if (kind == "dpo") {
        move_aside(run_ + "/dpo_pairs.jsonl");
        move_aside(run_ + "/dpo_pairs.jsonl.summary.json");
      }
      for (const std::string& name : {kind, kind + "-baseline"}) {
        state_["stages"].erase(name);
        state_["evals"].erase(name);
      }
    }
    save_state();
  }

  void move_aside(const std::string& path) {
    if (!fs::exists(path)) return;
    for (int n = 1;; ++n) {
      const std::string to = fmt::format("{}.replaced-{}", path, n);
      if (!fs::exists(to)) {
        fs::rename(path, to);
        std::cout << fmt::format("pipeline: moved {} to {}\n", path, to);
        return;
      }
    }
  }

  std::string stage_status(const std::string& kind) const {
    const auto& s = state_["stages"];
    return s.contains(kind) ? s[kind].value("status", "") : "";
  }

  // Runs one child; its output goes to `log` (prefixed lines) or, when empty, to stderr.
  int child(const std::string& name, std::vector<std::string> argv, const std::string& log) {
    SupervisorOptions so;
    so.log_name = "pipeline";
    int fd = -1;
    if (!log.empty()) {
      fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      RLVR_CHECK(fd >= 0, "{}: cannot open for writing: {}", log, std::strerror(errno));
      so.output_fd = fd;
    }
    Supervisor sup(so);
    ChildSpec spec;
    spec.name = name;
    spec.argv = std::move(argv);
    const int rc = sup.run({spec}, 0);
    if (fd >= 0) ::close(fd);
    return rc;
  }

  int interrupted(int rc, const std::string& what) {
    save_state();
    std::cerr << fmt::format("pipeline: interrupted during {}; run the same command again to continue (a stage "
                             "resumes from its newest checkpoint)\n",
                             what);
    return rc;
  }

  // The init step: synthesized data, a tokenizer trained on it, a model initialized from scratch.
  int init(std::string& model) {
    const auto& in = p_.pipeline.init;
    const std::string prep = run_ + "/prepare";
    const json settings = {{"model_config", in.model_config}, {"model_config_text", core::read_file(in.model_config)},
                           {"train_rows", in.train_rows},     {"eval_rows", in.eval_rows},
                           {"max_operand", in.max_operand},   {"vocab_size", in.vocab_size},
                           {"instruction_rows", in.instruction_rows},
                           {"instruction_eval_rows", in.instruction_eval_rows},
                           {"seed", p_.pipeline.seed}};
    model = prep + "/init";
    if (state_.contains("init") && state_["init"].value("status", "") == "done") {
      if (state_["init"]["settings"] != settings) {
        throw Error(fmt::format("{}: pipeline.init or pipeline.seed changed since {}/prepare was built; the stages "
                                "trained on it: choose another pipeline.output_dir",
                                p_.path, run_));
      }
      if (fs::exists(model + "/config.json")) {
        std::cout << fmt::format("== init: done ({}) ==\n", model);
        return 0;
      }
    }
    std::cout << fmt::format("== init: data, tokenizer and a model from scratch in {} ==\n", prep);
    const auto t0 = Clock::now();
    const std::string seed = std::to_string(p_.pipeline.seed);
    const std::vector<std::vector<std::string>> steps = {
        {o_.rlvr_binary, "data", "synth", "--out", prep + "/data", "--seed", seed, "--train-rows",
         std::to_string(in.train_rows), "--eval-rows", std::to_string(in.eval_rows), "--max-operand",
         std::to_string(in.max_operand), "--instruction-rows", std::to_string(in.instruction_rows),
         "--instruction-eval-rows", std::to_string(in.instruction_eval_rows)},
        {o_.rlvr_binary, "tokenizer", "train", "--input", prep + "/data/corpus.txt", "--vocab-size",
         std::to_string(in.vocab_size), "--out", prep + "/tokenizer.json", "--special-tokens", "<|endoftext|>",
         "<|system|>", "<|user|>", "<|assistant|>"},
        {o_.rlvr_binary, "model", "init", "--config", in.model_config, "--out", model, "--seed", seed},
    };
    for (const auto& argv : steps) {
      const int rc = child("init", argv, "");
      if (rc == 130 || rc == 143) return interrupted(rc, "init");
      if (rc != 0) throw Error(fmt::format("pipeline init: `{}` failed (exit {})", fmt::join(argv, " "), rc));
    }
    core::write_file_atomic(model + "/tokenizer.json", core::read_file(prep + "/tokenizer.json"));
    state_["init"] = {{"status", "done"}, {"settings", settings}, {"wall_s", seconds_since(t0)}};
    save_state();
    return 0;
  }

  // Every held-out file's rows in one file, so one evaluation reports every dataset.
  void write_heldout() {
    std::string rows;
    for (const auto& f : p_.pipeline.eval.data) {
      std::string text;
      try {
        text = core::read_file(f);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: pipeline.eval.data: {}", p_.path, e.what()));
      }
      if (!text.empty() && text.back() != '\n') text += '\n';
      rows += text;
    }
    RLVR_CHECK(!rows.empty(), "{}: pipeline.eval.data: the held-out files are empty", p_.path);
    core::write_file_atomic(run_ + "/eval/heldout.jsonl", rows);
  }

  int evaluate(const std::string& point, const std::string& model, double stage_wall_s) {
    const auto& ev = p_.pipeline.eval;
    const std::string base = run_ + "/eval/" + point;
    auto& evals = state_["evals"];
    if (evals.contains(point) && evals[point].value("status", "") == "done" && evals[point].value("model", "") == model &&
        fs::exists(base + ".summary.json")) {
      return 0;
    }
    std::cout << fmt::format("== eval after {}: {} on {} ==\n", point, model, run_ + "/eval/heldout.jsonl");
    const std::vector<std::string> argv = {o_.rlvr_binary, "eval", "--model", model, "--data",
                                           run_ + "/eval/heldout.jsonl", "--out", base + ".jsonl", "--summary",
                                           base + ".summary.json", "--max-new-tokens",
                                           std::to_string(ev.max_new_tokens), "--temperature",
                                           fmt::format("{}", ev.temperature), "--n", std::to_string(ev.n),
                                           "--batch-size", std::to_string(ev.batch_size), "--seed",
                                           std::to_string(p_.pipeline.seed), "--chat-template",
                                           p_.pipeline.chat_template};
    const int rc = child("eval", argv, base + ".log");
    if (rc == 130 || rc == 143) return interrupted(rc, "the evaluation after " + point);
    if (rc != 0) {
      throw Error(fmt::format("pipeline: evaluation after {} failed (exit {}); its log: {}.log", point, rc, base));
    }
    const json summary = json::parse(core::read_file(base + ".summary.json"));
    const auto& o = summary.at("overall");
    std::cout << fmt::format("   accuracy {:.4f} (pass@{} {:.4f}), mean length {:.1f}, no-EOS {:.3f}\n",
                             o.value("accuracy", 0.0), ev.n,
                             o.at("pass_at_k").value(fmt::format("pass@{}", ev.n), 0.0), o.value("mean_length", 0.0),
                             o.value("truncated_rate", 0.0));
    evals[point] = {{"status", "done"}, {"model", model}, {"stage_wall_s", stage_wall_s}};
    save_state();
    return 0;
  }

  int stage(size_t i, std::string& model) {
    const auto& st = p_.stages[i];
    const std::string dir = run_ + "/" + st.kind;
    core::Config cfg = st.config;
    cfg.run.output_dir = dir;
    cfg.run.name = p_.pipeline.name + "-" + st.kind;
    cfg.run.seed = p_.pipeline.seed;
    cfg.model.path = model;
    core::apply_checkpoint_generation_defaults(cfg);
    const bool pairs = st.kind == "dpo" && !st.pairs.prompts.empty();
    if (pairs) cfg.train.train_file = run_ + "/dpo_pairs.jsonl";
    const json settings = settings_of(cfg);
    auto& ss = state_["stages"];
    const std::string status = stage_status(st.kind);
    const std::string header = fmt::format("stage {}/{}: {}", i + 1, p_.stages.size(), st.kind);
    if (status == "done" && fs::exists(dir + "/final/config.json")) {
      if (const auto changes = changed_settings(ss[st.kind]["settings"], settings); !changes.empty()) {
        throw Error(fmt::format("{}: stage '{}' ({}) finished in {} with other settings ({}); run `rlvr pipeline {} "
                                "--from {}` to train it again (its old directory is kept)",
                                p_.path, st.kind, st.source, dir, describe_changes(changes),
                                p_.path, st.kind));
      }
      std::cout << fmt::format("== {}: done ({}/final) ==\n", header, dir);
      model = dir + "/final";
      return evaluate(st.kind, model, ss[st.kind].value("wall_s", 0.0));
    }
    std::cout << fmt::format("== {}{} ==\n", header, status == "running" ? " (resuming)" : "");
    double wall = ss.contains(st.kind) ? ss[st.kind].value("wall_s", 0.0) : 0.0;
    ss[st.kind] = {{"status", "running"}, {"settings", settings}, {"wall_s", wall}, {"source", st.source}};
    save_state();
    const auto t0 = Clock::now();
    if (pairs && !fs::exists(cfg.train.train_file)) {
      const auto& pc = st.pairs;
      const std::vector<std::string> argv = {
          o_.rlvr_binary, "data", "pairs", "--model", model, "--prompts", pc.prompts, "--out", cfg.train.train_file,
          "--n", std::to_string(pc.n), "--temperature", fmt::format("{}", pc.temperature), "--max-new-tokens",
          std::to_string(pc.max_new_tokens), "--seed", std::to_string(p_.pipeline.seed), "--chat-template",
          cfg.model.chat_template};
      const int rc = child("pairs", argv, "");
      if (rc == 130 || rc == 143) return interrupted(rc, "the dpo stage's pair sampling");
      if (rc != 0) throw Error(fmt::format("pipeline: `rlvr data pairs` for the dpo stage failed (exit {})", rc));
    }
    const std::string cfg_path = run_ + "/" + st.kind + ".yaml";
    core::write_file_atomic(cfg_path, core::config_to_yaml(cfg));
    std::vector<std::string> argv = st.kind == "rlvr"
                                        ? std::vector<std::string>{o_.rlvr_binary, "launch", "--config", cfg_path}
                                        : std::vector<std::string>{o_.rlvr_binary, "train", "--config", cfg_path};
    const int rc = child(st.kind, argv, "");
    wall += seconds_since(t0);
    ss[st.kind]["wall_s"] = wall;
    if (rc == 130 || rc == 143) return interrupted(rc, "stage " + st.kind);
    if (rc != 0) {
      save_state();
      throw Error(fmt::format("pipeline: stage '{}' failed (exit {}); its logs are in {}/logs; fix the cause and run "
                              "the same command again (the stage resumes from its newest checkpoint)",
                              st.kind, rc, dir));
    }
    RLVR_CHECK(fs::exists(dir + "/final/config.json"), "pipeline: stage '{}' ended without {}/final", st.kind, dir);
    ss[st.kind]["status"] = "done";
    save_state();
    model = dir + "/final";
    return evaluate(st.kind, model, wall);
  }

  // pipeline.baselines: stage i gets a baseline when an sft stage ran before it.
  bool has_baseline(size_t i) const {
    if (!p_.pipeline.baselines || p_.stages[i].kind == "sft") return false;
    for (size_t j = 0; j < i; ++j) {
      if (p_.stages[j].kind == "sft") return true;
    }
    return false;
  }

  // The baseline of stage i: the sft stage's training continued from the checkpoint stage i started
  // from, for stage i's wall time (train.max_time_s), with a schedule sized to what SFT's measured
  // pace fits into that time (train.max_steps), evaluated as "<stage>-baseline".
  int baseline(size_t i, const std::string& start) {
    const auto& st = p_.stages[i];
    const std::string name = st.kind + "-baseline";
    const std::string dir = run_ + "/" + name;
    const core::PipelineStage* sft = nullptr;
    for (const auto& s : p_.stages) {
      if (s.kind == "sft") sft = &s;
    }
    RLVR_ASSERT(sft != nullptr);
    auto& ss = state_["stages"];
    const double budget = ss[st.kind].value("wall_s", 0.0);
    const double sft_wall = ss["sft"].value("wall_s", 0.0);
    const std::string sft_summary = run_ + "/sft/summary.json";
    RLVR_CHECK(fs::exists(sft_summary) && sft_wall > 0, "pipeline: {}: the sft stage's {} or its wall time is missing",
               name, sft_summary);
    const auto sft_steps = json::parse(core::read_file(sft_summary)).value("steps", int64_t{0});
    core::Config cfg = sft->config;
    cfg.run.output_dir = dir;
    cfg.run.name = p_.pipeline.name + "-" + name;
    cfg.run.seed = p_.pipeline.seed;
    cfg.model.path = start;
    core::apply_checkpoint_generation_defaults(cfg);
    cfg.train.max_time_s = budget;
    cfg.train.max_steps = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(budget * static_cast<double>(sft_steps) / sft_wall)));
    const json settings = settings_of(cfg);
    const std::string header = fmt::format("baseline of {}: SFT continued from {} for {:.0f} s", st.kind, start, budget);
    const auto changes = ss.contains(name) ? changed_settings(ss[name]["settings"], settings) : std::vector<std::string>{};
    if (!changes.empty()) {
      std::cout << fmt::format("pipeline: {} was run with other settings ({}); running it again\n", name,
                               describe_changes(changes));
      move_aside(dir);
      ss.erase(name);
      state_["evals"].erase(name);
    }
    if (stage_status(name) == "done" && fs::exists(dir + "/final/config.json")) {
      std::cout << fmt::format("== {}: done ({}/final) ==\n", header, dir);
      return evaluate(name, dir + "/final", ss[name].value("wall_s", 0.0));
    }
    std::cout << fmt::format("== {} (at most {} steps at SFT's pace) ==\n", header, cfg.train.max_steps);
    double wall = ss.contains(name) ? ss[name].value("wall_s", 0.0) : 0.0;
    ss[name] = {{"status", "running"}, {"settings", settings}, {"wall_s", wall}, {"source", sft->source}};
    save_state();
    const std::string cfg_path = run_ + "/" + name + ".yaml";
    core::write_file_atomic(cfg_path, core::config_to_yaml(cfg));
    const auto t0 = Clock::now();
    const int rc = child(name, {o_.rlvr_binary, "train", "--config", cfg_path}, "");
    wall += seconds_since(t0);
    ss[name]["wall_s"] = wall;
    if (rc == 130 || rc == 143) return interrupted(rc, name);
    if (rc != 0) {
      save_state();
      throw Error(fmt::format("pipeline: {} failed (exit {}); its logs are in {}/logs; run the same command again "
                              "to resume it",
                              name, rc, dir));
    }
    RLVR_CHECK(fs::exists(dir + "/final/config.json"), "pipeline: {} ended without {}/final", name, dir);
    ss[name]["status"] = "done";
    save_state();
    return evaluate(name, dir + "/final", wall);
  }

  void write_results() {
    json rows = json::array();
    std::vector<std::string> points{"init"};
    for (size_t i = 0; i < p_.stages.size(); ++i) {
      points.push_back(p_.stages[i].kind);
      if (has_baseline(i)) points.push_back(p_.stages[i].kind + "-baseline");
    }
    std::vector<std::string> datasets;
    for (const auto& point : points) {
      const json summary = json::parse(core::read_file(run_ + "/eval/" + point + ".summary.json"));
      json row = {{"point", point},
                  {"model", state_["evals"][point].value("model", "")},
                  {"wall_s", state_["evals"][point].value("stage_wall_s", 0.0)},
                  {"n", summary.value("n", 1)},
                  {"overall", summary.at("overall")},
                  {"datasets", json::object()}};
      if (point.size() > 9 && point.compare(point.size() - 9, 9, "-baseline") == 0) {
        row["baseline_of"] = point.substr(0, point.size() - 9);
      }
      for (const auto& d : summary.at("datasets")) {
        const std::string name = d.value("dataset", "");
        row["datasets"][name] = d;
        if (std::find(datasets.begin(), datasets.end(), name) == datasets.end()) datasets.push_back(name);
      }
      rows.push_back(row);
    }
    const json out = {{"pipeline", p_.pipeline.name}, {"datasets", datasets}, {"rows", rows}};
    core::write_file_atomic(run_ + "/results.json", out.dump(2) + "\n");
    core::write_file_atomic(run_ + "/results.md", results_markdown(run_));
  }

  const core::PipelineConfig& p_;
  PipelineRunOptions o_;
  std::string run_;
  json state_;
};

}  // namespace

int run_pipeline(const core::PipelineConfig& pipeline, const PipelineRunOptions& options) {
  return Runner(pipeline, options).run();
}

std::string results_markdown(const std::string& run_dir) {
  const std::string path = run_dir + "/results.json";
  json r;
  try {
    r = json::parse(core::read_file(path));
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  const auto datasets = r.at("datasets").get<std::vector<std::string>>();
  std::string out = "| stage |";
  std::string rule = "| --- |";
  for (const auto& d : datasets) {
    out += " " + d + " |";
    rule += " ---: |";
  }
  const int64_t n = r.at("rows").empty() ? 1 : r.at("rows")[0].value("n", 1);
  out += fmt::format(" all | pass@{} | mean length | no-EOS | wall s |\n", n);
  rule += " ---: | ---: | ---: | ---: | ---: |\n";
  out += rule;
  for (const auto& row : r.at("rows")) {
    out += "| " + row.value("point", "") + " |";
    for (const auto& d : datasets) {
      const auto& ds = row.at("datasets");
      out += ds.contains(d) ? fmt::format(" {:.3f} |", ds[d].value("accuracy", 0.0)) : std::string(" - |");
    }
    const auto& o = row.at("overall");
    out += fmt::format(" {:.3f} | {:.3f} | {:.1f} | {:.3f} | {:.0f} |\n", o.value("accuracy", 0.0),
                       o.at("pass_at_k").value(fmt::format("pass@{}", n), 0.0), o.value("mean_length", 0.0),
                       o.value("truncated_rate", 0.0), row.value("wall_s", 0.0));
  }
  for (const auto& row : r.at("rows")) {
    if (row.contains("baseline_of")) {
      out += "\n<stage>-baseline: SFT continued from the checkpoint that stage started from, for the stage's wall "
             "time (pipeline.baselines).\n";
      break;
    }
  }
  return out;
}

}  // namespace rlvr::tools
