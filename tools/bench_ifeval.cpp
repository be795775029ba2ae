// Benchmark: IFEval instruction checks per second on realistic 200-2000 character responses,
// single thread and all cores. Each verification checks one instruction (the ground truth
// names one instruction id, cycling through all 25 types with realistic kwargs), so
// verifications/s = instructions/s.
//
//   bench_ifeval [--seconds S] [--threads N] [--per-type]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "verifiers/verifier.h"

namespace {

using nlohmann::json;
using rlvr::verifiers::VerifyInput;

const char* kSentences[] = {
    "The committee reviewed the proposal in detail and agreed to move forward with the plan.",
    "However, several members raised concerns about the budget, which had grown by 15% since March.",
    "Dr. Smith noted that the U.S. market remains strong despite recent volatility.",
    "In my opinion, the best approach is to start small, measure the results, and iterate quickly!",
    "Is there any reason to believe the schedule will slip again?",
    "THE KEY POINT IS THAT WE MUST ACT NOW.",
    "Our team has *carefully* considered every option, including the **most expensive** one.",
    "Please contact [name] at [email] before the deadline.",
    "This approach, while not perfect, offers a reasonable balance between cost and quality.",
    "We'll revisit the question next week; until then, don't hesitate to reach out.",
};
const char* kPrefixes[] = {"", "<<A Report on Progress>>\n\n", "Section 1\n", "* ", "\"", "```json\n"};
const char* kSuffixes[] = {"", "\n\nP.S. Thanks for reading.", "\n***\nAnother paragraph follows here.", "\"",
                           "\n```", " Any other questions?"};

std::vector<std::string> make_responses(size_t n) {
  std::mt19937 rng(42);
  std::vector<std::string> out;
  while (out.size() < n) {
    std::string r = kPrefixes[rng() % 6];
    size_t target = 200 + rng() % 1800;
    while (r.size() < target) {
      r += kSentences[rng() % 10];
      r += (rng() % 5 == 0) ? "\n\n" : (rng() % 7 == 0 ? "\n- " : " ");
    }
    r += kSuffixes[rng() % 6];
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> make_ground_truths() {
  std::vector<std::pair<const char*, json>> items = {
      {"keywords:existence", {{"keywords", {"budget", "team"}}}},
      {"keywords:frequency", {{"keyword", "the"}, {"frequency", 4}, {"relation", "at least"}}},
      {"keywords:forbidden_words", {{"forbidden_words", {"cheap", "never"}}}},
      {"keywords:letter_frequency", {{"letter", "e"}, {"let_frequency", 20}, {"let_relation", "at least"}}},
      {"language:response_language", {{"language", "en"}}},
      {"length_constraints:number_sentences", {{"num_sentences", 8}, {"relation", "less than"}}},
      {"length_constraints:number_paragraphs", {{"num_paragraphs", 2}}},
      {"length_constraints:number_words", {{"num_words", 150}, {"relation", "at least"}}},
      {"length_constraints:nth_paragraph_first_word", {{"num_paragraphs", 3}, {"nth_paragraph", 2}, {"first_word", "the"}}},
      {"detectable_content:number_placeholders", {{"num_placeholders", 2}}},
      {"detectable_content:postscript", {{"postscript_marker", "P.S."}}},
      {"detectable_format:number_bullet_lists", {{"num_bullets", 3}}},
      {"detectable_format:constrained_response", json::object()},
      {"detectable_format:number_highlighted_sections", {{"num_highlights", 2}}},
      {"detectable_format:multiple_sections", {{"section_spliter", "Section"}, {"num_sections", 2}}},
      {"detectable_format:json_format", json::object()},
      {"detectable_format:title", json::object()},
      {"combination:two_responses", json::object()},
      {"combination:repeat_prompt", {{"prompt_to_repeat", "Write a report on progress."}}},
      {"startend:end_checker", {{"end_phrase", "Any other questions?"}}},
      {"change_case:capital_word_frequency", {{"capital_frequency", 5}, {"capital_relation", "at least"}}},
      {"change_case:english_capital", json::object()},
      {"change_case:english_lowercase", json::object()},
      {"punctuation:no_comma", json::object()},
      {"startend:quotation", json::object()},
  };
  std::vector<std::string> out;
  for (auto& [id, kw] : items) out.push_back(json{{"instruction_id", {id}}, {"kwargs", {kw}}}.dump());
  return out;
}

// Runs verifications for `seconds` on `threads` threads; returns verifications per second.
double run(int threads, double seconds, const std::vector<std::string>& responses,
           const std::vector<std::string>& gts) {
  std::atomic<bool> stop{false};
  std::atomic<long long> total{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto v = rlvr::verifiers::make_verifier("ifeval");
      long long n = 0;
      double sink = 0;
      size_t i = static_cast<size_t>(t) * 7919;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 64; ++k, ++i) {
          VerifyInput in{"", responses[i % responses.size()], gts[i % gts.size()]};
          sink += v->verify(in).score;
          ++n;
        }
      }
      total += n;
      if (sink < 0) std::puts("");
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  bool per_type = false;
  for (int i = 1; i < argc; ++i) per_type = per_type || !std::strcmp(argv[i], "--per-type");
  if (threads < 1) threads = 1;
  auto responses = make_responses(512);
  auto gts = make_ground_truths();
  size_t bytes = 0;
  for (const auto& r : responses) bytes += r.size();
  std::printf("responses: %zu, mean %zu chars; instruction types: %zu (one instruction per verification)\n",
              responses.size(), bytes / responses.size(), gts.size());
  run(1, 0.5, responses, gts);  // warm-up: pattern caches, CLD2 tables
  if (per_type) {
    for (const auto& gt : gts) {
      double rate = run(1, seconds / 10, responses, std::vector<std::string>{gt});
      std::printf("  %-55s %10.0f /s\n", nlohmann::json::parse(gt)["instruction_id"][0].get<std::string>().c_str(), rate);
    }
  }
  double one = run(1, seconds, responses, gts);
  std::printf("1 thread:   %10.0f instructions/s\n", one);
  double all = run(threads, seconds, responses, gts);
  std::printf("%d threads: %10.0f instructions/s (%.0f per thread)\n", threads, all, all / threads);
  return 0;
}
