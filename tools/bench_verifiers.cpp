// Verifier throughput: verifications per second of gsm8k and math on synthetic but realistic
// chain-of-thought responses (200-2000 characters), on one thread and on every core.
//   build-ver/bench_verifiers [--seconds 2] [--threads 0]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.h"
#include "verifiers/reward.h"
#include "verifiers/verifier.h"

namespace {

using rlvr::verifiers::RewardRequest;

std::string gsm8k_response(std::mt19937& rng, int answer) {
  static const char* kSentences[] = {
      "She buys {a} apples at ${b} each, which costs {a} * {b} = ${c}. ",
      "Then he gives away {a} of the {b} marbles, leaving {b} - {a} = {c}. ",
      "Each box holds {a} items, so {b} boxes hold {a} x {b} = {c,} items. ",
      "The trip takes {a} hours at {b} mph, a distance of {c} miles. ",
      "We know that {a}% of {b} is {c}. ",
      "Adding the two amounts gives {a} + {b} = {c}. ",
  };
  std::uniform_int_distribution<int> pick(0, 5), num(2, 999), len(200, 1900);
  size_t target = static_cast<size_t>(len(rng));
  std::string out = "Let's solve this step by step.\n";
  while (out.size() < target) {
    std::string s = kSentences[pick(rng)];
    int a = num(rng), b = num(rng);
    auto rep = [&](const std::string& key, const std::string& v) {
      size_t p = s.find(key);
      if (p != std::string::npos) s.replace(p, key.size(), v);
    };
    rep("{a}", std::to_string(a));
    rep("{a}", std::to_string(a));
    rep("{b}", std::to_string(b));
    rep("{b}", std::to_string(b));
    std::string c = std::to_string(a * b);
    if (c.size() > 3) c.insert(c.size() - 3, ",");
    rep("{c,}", c);
    rep("{c}", std::to_string(a + b));
    out += s;
  }
  switch (answer % 3) {
    case 0: out += "\n#### " + std::to_string(answer); break;
    case 1: out += "\nThe answer is " + std::to_string(answer) + "."; break;
    default: out += "\nSo the total is $" + std::to_string(answer) + ".00."; break;
  }
  return out;
}

std::string math_response(std::mt19937& rng, const std::string& boxed) {
  static const char* kSentences[] = {
      "We have $\\frac{{a}}{{b}} + \\frac{1}{{b}} = \\frac{{a}+1}{{b}}$. ",
      "Squaring both sides, $x^2 = {a}$, so $x = \\pm\\sqrt{{a}}$. ",
      "By the Pythagorean theorem, $c = \\sqrt{{a}^2 + {b}^2}$. ",
      "The area is $\\pi r^2 = {a}\\pi$ square units. ",
      "Therefore \\[ \\left( {a}, {b} \\right) \\] is the vertex of the parabola. ",
      "Note that $\\dfrac{{a}}{{b}}$ simplifies since $\\gcd({a}, {b}) = 1$. ",
  };
  std::uniform_int_distribution<int> pick(0, 5), num(2, 99), len(200, 1900);
  size_t target = static_cast<size_t>(len(rng));
  std::string out;
  while (out.size() < target) {
    std::string s = kSentences[pick(rng)];
    std::string a = std::to_string(num(rng)), b = std::to_string(num(rng));
    for (size_t p; (p = s.find("{a}")) != std::string::npos;) s.replace(p, 3, a);
    for (size_t p; (p = s.find("{b}")) != std::string::npos;) s.replace(p, 3, b);
    out += s;
  }
  return out + "\n\nThe answer is $\\boxed{" + boxed + "}$.";
}

// Answer pairs (boxed, ground truth): a mix of identical strings (Hendrycks path), equal values
// written differently (numeric path) and wrong answers.
const std::pair<const char*, const char*> kMathAnswers[] = {
    {"\\frac{3}{4}", "\\frac{3}{4}"},        {"0.75", "\\frac{3}{4}"},
    {"2\\sqrt{2}", "\\sqrt{8}"},             {"\\left(1, \\frac{1}{2}\\right)", "(1,0.5)"},
    {"\\dfrac{\\pi}{2}", "\\frac{\\pi}{2}"}, {"12", "12"},
    {"x^2+2x+1", "(x+1)^2"},                 {"[0, 1)", "[0,1)"},
    {"5", "6"},                              {"\\frac{1}{3}", "0.333"},
};

double measure(const std::function<size_t()>& body, double seconds) {
  auto t0 = std::chrono::steady_clock::now();
  size_t n = 0;
  double elapsed = 0;
  do {
    n += body();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  return n / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());

  std::mt19937 rng(1234);
  std::vector<RewardRequest> gsm, math;
  double gsm_chars = 0, math_chars = 0;
  for (int i = 0; i < 2000; ++i) {
    int answer = 1 + i * 7;
    std::string truth = std::to_string(i % 4 == 3 ? answer + 1 : answer);
    gsm.push_back({"gsm8k", {"", gsm8k_response(rng, answer), truth}});
    gsm_chars += gsm.back().input.response.size();
    const auto& a = kMathAnswers[i % 10];
    math.push_back({"math", {"", math_response(rng, a.first), a.second}});
    math_chars += math.back().input.response.size();
  }
  std::printf("responses: gsm8k mean %.0f chars, math mean %.0f chars (2000 each)\n",
              gsm_chars / gsm.size(), math_chars / math.size());

  rlvr::core::VerifiersConfig config;
  for (auto* set : {&gsm, &math}) {
    const std::string& name = set->front().dataset;
    auto verifier = rlvr::verifiers::make_verifier(name);
    double correct = 0;
    for (const auto& r : *set) correct += verifier->verify(r.input).score;
    double single = measure([&] {
      for (const auto& r : *set) verifier->verify(r.input);
      return set->size();
    }, seconds);
    rlvr::verifiers::RewardScorer scorer(config, threads);
    double all = measure([&] { return scorer.score_batch(*set).size(); }, seconds);
    std::printf("%-6s accuracy %.3f  1 thread: %10.0f verifications/s   %d threads: %10.0f verifications/s\n",
                name.c_str(), correct / set->size(), single, threads, all);
  }
  return 0;
}
