#include "tools/data/synth.h"

#include <array>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace rlvr::tools {
namespace {

constexpr std::array<const char*, 10> kNames = {"Mia", "Tom", "Ava", "Leo", "Zoe",
                                                "Sam", "Ivy", "Max", "Eli", "Ada"};
constexpr std::array<const char*, 10> kItems = {"apples", "pencils", "stickers", "marbles", "books",
                                                "cards", "shells", "coins", "stamps", "cookies"};

struct Problem {
  std::string question;
  std::string working;  // "7 + 5 = 12"
  int64_t answer = 0;
};

class Generator {
 public:
  Generator(uint64_t seed, int64_t max_operand) : rng_(seed), max_(max_operand) {}

  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  Problem next() {
    const char* name = kNames[static_cast<size_t>(pick(0, kNames.size() - 1))];
    const char* item = kItems[static_cast<size_t>(pick(0, kItems.size() - 1))];
    int64_t a = pick(1, max_), b = pick(1, max_);
    Problem p;
    switch (pick(0, 3)) {
      case 0:
        p.question = fmt::format("{} has {} {}. {} gets {} more. How many {} does {} have now?", name, a,
                                 item, name, b, item, name);
        p.answer = a + b;
        p.working = fmt::format("{} + {} = {}", a, b, p.answer);
        break;
      case 1: {
        if (b > a) std::swap(a, b);
        p.question = fmt::format("{} has {} {}. {} gives away {}. How many {} are left?", name, a,
                                 item, name, b, item);
        p.answer = a - b;
        p.working = fmt::format("{} - {} = {}", a, b, p.answer);
        break;
      }
      case 2: {
        int64_t k = pick(2, 5);
        p.question = fmt::format("{} has {} boxes with {} {} in each box. How many {} are there in all?",
                                 name, k, a, item, item);
        p.answer = k * a;
        p.working = fmt::format("{} * {} = {}", k, a, p.answer);
        break;
      }
      default: {
        int64_t c = pick(1, max_);
        p.question = fmt::format("{} has {} {}, buys {} more, then gives away {}. How many {} does {} have?",
                                 name, a + c, item, b, c, item, name);
        p.answer = a + b;
        p.working = fmt::format("{} + {} - {} = {}", a + c, b, c, p.answer);
        break;
      }
    }
    return p;
  }

  // A plausible wrong answer for a rejected response.
  Problem corrupt(const Problem& p) {
    Problem bad = p;
    switch (pick(0, 2)) {
      case 0:  // off by a small amount
        bad.answer = p.answer + (pick(0, 1) ? 1 : -1) * pick(1, 3);
        bad.working = p.working.substr(0, p.working.rfind('=') + 2) + std::to_string(bad.answer);
        break;
      case 1:  // right number, missing the required format
        bad.working = "The answer is " + std::to_string(p.answer) + ".";
        bad.answer = INT64_MIN;
        break;
      default:  // wrong operation
        bad.answer = p.answer + pick(4, 9);
        bad.working = p.working.substr(0, p.working.rfind('=') + 2) + std::to_string(bad.answer);
        break;
    }
    return bad;
  }

 private:
  std::mt19937_64 rng_;
  int64_t max_;
};

std::string answer_text(const Problem& p) {
  if (p.answer == INT64_MIN) return p.working;
  return p.working + "\n#### " + std::to_string(p.answer);
}

nlohmann::json message(const char* role, const std::string& content) {
  return nlohmann::json{{"role", role}, {"content", content}};
}

}  // namespace

void synthesize_task_world(const std::string& dir, const SynthOptions& options) {
  RLVR_CHECK(options.train_rows >= 1 && options.eval_rows >= 1, "synth: row counts must be >= 1");
  RLVR_CHECK(options.max_operand >= 2 && options.max_operand <= 1000000,
             "synth: max_operand must be in [2, 1000000], got {}", options.max_operand);
  core::make_dirs(dir);
  Generator train(options.seed, options.max_operand);
  // The eval split uses its own stream and excludes questions seen in training.
  std::string sft, dpo, rlvr, corpus;
  std::set<std::string> seen;
  for (int64_t i = 0; i < options.train_rows; ++i) {
    Problem p = train.next();
    seen.insert(p.question);
    std::string answer = answer_text(p);
    nlohmann::json user = message("user", p.question);
    sft += nlohmann::json{{"messages", {user, message("assistant", answer)}}}.dump() + "\n";
    Problem bad = train.corrupt(p);
    dpo += nlohmann::json{{"chosen", {user, message("assistant", answer)}},
                          {"rejected", {user, message("assistant", answer_text(bad))}}}
               .dump() +
           "\n";
    rlvr += nlohmann::json{{"messages", {user}},
                           {"ground_truth", std::to_string(p.answer)},
                           {"dataset", "gsm8k"}}
                .dump() +
            "\n";
    corpus += p.question + "\n" + answer + "\n";
  }
  Generator held_out(options.seed ^ 0x9E3779B97F4A7C15ULL, options.max_operand);
  std::string eval;
  int64_t written = 0;
  for (int64_t attempts = 0; written < options.eval_rows && attempts < options.eval_rows * 50; ++attempts) {
    Problem p = held_out.next();
    if (seen.count(p.question)) continue;
    seen.insert(p.question);
    eval += nlohmann::json{{"messages", {message("user", p.question)}},
                           {"ground_truth", std::to_string(p.answer)},
                           {"dataset", "gsm8k"}}
                .dump() +
            "\n";
    ++written;
  }
  RLVR_CHECK(written == options.eval_rows,
             "synth: could only find {} held-out problems unseen in training; raise max_operand", written);
  core::write_file_atomic(dir + "/sft.jsonl", sft);
  core::write_file_atomic(dir + "/dpo.jsonl", dpo);
  core::write_file_atomic(dir + "/rlvr.jsonl", rlvr);
  core::write_file_atomic(dir + "/eval.jsonl", eval);
  core::write_file_atomic(dir + "/corpus.txt", corpus);
}

}  // namespace rlvr::tools
