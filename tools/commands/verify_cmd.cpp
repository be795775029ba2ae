// `rlvr verify`: score a JSONL file of completions with the verifiers, on all cores.
//
// Each input line is a JSON object with "response", "ground_truth" (a string, or any JSON value,
// passed on as its JSON text; a one-element list is unwrapped) and "dataset" (the verifier name);
// "prompt" (a string) or "messages" (the last user message is the prompt) are optional, and every
// other field is passed through. `rlvr generate` output is valid input. Each output line is the
// input object plus "score", "reward" and "reason" (and "verifier_error": true when the verifier
// could not score the row), in input order. A malformed line is reported as FILE:LINE on stderr and
// left out; the rest are scored, and the command then exits 1. A per-dataset summary goes to
// stderr. The command fails when no row could be scored (every verifier call failed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/config/loader.h"
#include "core/error.h"
#include "core/fs.h"
#include "tools/cli.h"
#include "verifiers/reward.h"
#include "verifiers/thread_pool.h"

namespace rlvr::tools {
namespace {

struct VerifyParams {
  std::string input;
  std::string out;
  std::string config;
  std::vector<std::string> overrides;
  int threads = 0;
};

struct Row {
  size_t line = 0;            // 1-based
  std::string_view text;
  std::string error;          // non-empty: malformed
  std::string dataset;
  std::string output;         // the output JSON line
  verifiers::Reward reward;
};

// The prompt a row carries: "prompt" as a string, else the last user message's content.
std::string prompt_of(const nlohmann::ordered_json& j) {
  auto p = j.find("prompt");
  if (p != j.end() && p->is_string()) return p->get<std::string>();
  auto m = j.find("messages");
  if (m != j.end() && m->is_array()) {
    for (auto it = m->rbegin(); it != m->rend(); ++it) {
      if (!it->is_object()) continue;
      auto role = it->find("role");
      if (role != it->end() && role->is_string() && role->get_ref<const std::string&>() == "user") {
        auto c = it->find("content");
        if (c != it->end() && c->is_string()) return c->get<std::string>();
      }
    }
  }
  return {};
}

void score_row_unchecked(Row& row, const verifiers::RewardScorer& scorer) {
  auto j = nlohmann::ordered_json::parse(row.text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    row.error = "not valid JSON";
    return;
  }
  if (!j.is_object()) {
    row.error = "expected a JSON object";
    return;
  }
  auto response = j.find("response");
  if (response == j.end() || !response->is_string()) {
    row.error = "field 'response' is missing or not a string";
    return;
  }
  auto dataset = j.find("dataset");
  if (dataset == j.end() || !dataset->is_string()) {
    row.error = "field 'dataset' is missing or not a string (expected a verifier name such as \"gsm8k\")";
    return;
  }
  auto truth = j.find("ground_truth");
  if (truth == j.end() || truth->is_null()) {
    row.error = "field 'ground_truth' is missing";
    return;
  }
  verifiers::VerifyInput in;
  in.prompt = prompt_of(j);
  in.response = response->get<std::string>();
  in.ground_truth = truth->is_string() ? truth->get<std::string>() : truth->dump();
  row.dataset = dataset->get<std::string>();
  row.reward = scorer.score(row.dataset, in);
  j["score"] = row.reward.score;
  j["reward"] = row.reward.reward;
  j["reason"] = row.reward.reason;
  if (row.reward.error || !row.reward.known_dataset) j["verifier_error"] = true;
  row.output = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// One row's outcome; anything a row makes throw is that row's error, never the process's.
void score_row(Row& row, const verifiers::RewardScorer& scorer) {
  try {
    score_row_unchecked(row, scorer);
  } catch (const std::exception& e) {
    row.error = std::string("cannot score this row: ") + e.what();
  }
}

struct Summary {
  int64_t rows = 0, correct = 0, found = 0, errors = 0;
  double score = 0, reward = 0;
};

void print_summary(const std::map<std::string, Summary>& per, double seconds, int64_t malformed,
                   int threads) {
  // accuracy: score 1; found: an answer could be extracted; errors: the verifier could not score
  // the row at all (not a wrong answer and not a format failure).
  std::fprintf(stderr, "%-16s %8s %10s %10s %10s %8s %11s\n", "dataset", "rows", "accuracy",
               "mean_score", "found", "errors", "mean_reward");
  Summary total;
  auto line = [](const char* name, const Summary& s) {
    std::fprintf(stderr, "%-16s %8lld %10.4f %10.4f %10.4f %8lld %11.4f\n", name,
                 static_cast<long long>(s.rows), double(s.correct) / s.rows, s.score / s.rows,
                 double(s.found) / s.rows, static_cast<long long>(s.errors), s.reward / s.rows);
  };
  for (const auto& [name, s] : per) {
    line(name.c_str(), s);
    total.rows += s.rows;
    total.correct += s.correct;
    total.found += s.found;
    total.errors += s.errors;
    total.score += s.score;
    total.reward += s.reward;
  }
  if (total.rows > 0) line("all", total);
  std::fprintf(stderr, "%lld rows, %lld verifier errors, %lld malformed, %.3f s, %.0f rows/s on %d threads\n",
               static_cast<long long>(total.rows), static_cast<long long>(total.errors),
               static_cast<long long>(malformed), seconds, seconds > 0 ? total.rows / seconds : 0.0, threads);
}

void run_verify(const VerifyParams& p) {
  // --set goes through the same strict schema with or without --config.
  core::Config config = p.config.empty() ? core::load_config_text("", "--set", p.overrides)
                                         : core::load_config(p.config, p.overrides);
  if (!p.out.empty()) check_distinct_paths(p.input, "--input", p.out, "--out");
  std::string data = core::read_file(p.input);

  std::vector<Row> rows;
  size_t start = 0, line = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    size_t end = nl == std::string::npos ? data.size() : nl;
    ++line;
    std::string_view text(data.data() + start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") != std::string_view::npos) {
      Row r;
      r.line = line;
      r.text = text;
      rows.push_back(std::move(r));
    }
    start = end + 1;
  }

  auto t0 = std::chrono::steady_clock::now();
  verifiers::RewardScorer scorer(config.verifiers, /*num_threads=*/1);
  // No more threads than rows: --threads 1024 on 9 rows starts 9 (the calling thread works too).
  int threads = p.threads > 0 ? p.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), std::max<size_t>(1, rows.size())));
  verifiers::ThreadPool pool(threads);
  pool.parallel_for(rows.size(), [&](size_t i) { score_row(rows[i], scorer); });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string out;
  std::map<std::string, Summary> per;
  int64_t malformed = 0, errors = 0;
  size_t first_bad = 0;
  std::string first_error;
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      std::cerr << "error: " << p.input << ":" << r.line << ": " << r.error << "\n";
      if (malformed++ == 0) first_bad = r.line;
      continue;
    }
    const bool failed = r.reward.error || !r.reward.known_dataset;
    if (failed) {
      std::cerr << "warning: " << p.input << ":" << r.line << ": verifier error: " << r.reward.reason << "\n";
      if (errors++ == 0) first_error = fmt::format("line {}: {}", r.line, r.reward.reason);
    }
    out += r.output;
    out += '\n';
    Summary& s = per[r.dataset];
    ++s.rows;
    s.errors += failed;
    s.correct += r.reward.score >= 1.0;
    s.found += r.reward.answer_found;
    s.score += r.reward.score;
    s.reward += r.reward.reward;
  }
  if (p.out.empty()) {
    std::cout << out << std::flush;
  } else {
    core::write_file_atomic(p.out, out);
  }
  print_summary(per, seconds, malformed, pool.size());
  const int64_t scored_rows = static_cast<int64_t>(rows.size()) - malformed;
  if (scored_rows > 0 && errors == scored_rows) {
    throw Error(fmt::format("{}: no row could be scored: all {} rows hit a verifier error (first at {})",
                            p.input, errors, first_error),
                "check the verifiers (an external verifier's command, timeout_ms) and the `dataset` names");
  }
  if (malformed > 0) {
    throw Error(fmt::format("{}: {} malformed line(s), first at line {}; the other lines were scored",
                            p.input, malformed, first_bad));
  }
}

void setup(CLI::App& app) {
  auto params = std::make_shared<VerifyParams>();
  auto* cmd = app.add_subcommand(
      "verify", "Score a JSONL file of {response, ground_truth, dataset} rows with the verifiers");
  cmd->add_option("--input", params->input, "Input JSONL file")->required();
  cmd->add_option("--out", params->out, "Output JSONL file (default: stdout)");
  cmd->add_option("--config", params->config,
                  "Config YAML (verifiers.* : verification_reward, max_input_bytes, external)");
  cmd->add_option("--set", params->overrides, "Override a config key: a.b.c=value (repeatable)");
  cmd->add_option("--threads", params->threads, "Worker threads; 0 uses every core")
      ->capture_default_str()
      ->envname("RLVR_VERIFY_THREADS")
      ->check(int_in(0, verifiers::ThreadPool::kMaxThreads));
  cmd->callback([params] { run_verify(*params); });
}

}  // namespace

RLVR_REGISTER_COMMAND("verify", 60, setup);

}  // namespace rlvr::tools
