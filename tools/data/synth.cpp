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

// The instruction-following family (synth.h).
constexpr std::array<const char*, 3> kEndPhrases = {"Is there anything else?", "That is all.", "Have a nice day."};

struct Instructed {
  std::string prompt;
  std::string response;   // follows every instruction
  std::string violation;  // breaks exactly one (for a rejected answer)
  nlohmann::json ground_truth;
};

// `q`, `e` (end phrase index or -1) and `c` select the instructions.
Instructed instructed(Generator& g, bool q, int e, bool c) {
  const char* name = kNames[static_cast<size_t>(g.pick(0, kNames.size() - 1))];
  const size_t i1 = static_cast<size_t>(g.pick(0, kItems.size() - 1));
  size_t i2 = static_cast<size_t>(g.pick(0, kItems.size() - 2));
  if (i2 >= i1) ++i2;
  const int64_t a = g.pick(1, 9), b = g.pick(1, 9);
  Instructed out;
  out.prompt = fmt::format("Tell me what {} has: {} {} and {} {}.", name, a, kItems[i1], b, kItems[i2]);
  auto body = [&](bool comma) {
    return fmt::format("{} has {} {}{} and {} {}.", name, a, kItems[i1], comma ? "," : "", b, kItems[i2]);
  };
  nlohmann::json ids = nlohmann::json::array(), kwargs = nlohmann::json::array();
  if (q) {
    out.prompt += " Wrap your whole answer in double quotes.";
    ids.push_back("startend:quotation");
    kwargs.push_back(nlohmann::json::object());
  }
  if (e >= 0) {
    out.prompt += fmt::format(" End your answer with the phrase \"{}\".", kEndPhrases[static_cast<size_t>(e)]);
    ids.push_back("startend:end_checker");
    kwargs.push_back({{"end_phrase", kEndPhrases[static_cast<size_t>(e)]}});
  }
  if (c) {
    out.prompt += " Do not use any commas.";
    ids.push_back("punctuation:no_comma");
    kwargs.push_back(nlohmann::json::object());
  }
  auto render = [&](bool comma, bool quote, bool end) {
    std::string text = body(comma);
    if (end && e >= 0) text += std::string(" ") + kEndPhrases[static_cast<size_t>(e)];
    if (quote) text = "\"" + text + "\"";
    return text;
  };
  out.response = render(!c, q, true);
  // A rejected answer breaks one instruction: keeps the comma, drops the quotes or the end phrase.
  if (c && e >= 0 && g.pick(0, 1) == 0) out.violation = render(!c, q, false);
  else if (c && (!q || g.pick(0, 1) == 0)) out.violation = render(true, q, true);
  else if (q) out.violation = render(!c, false, true);
  else if (e >= 0) out.violation = render(!c, q, false);
  else out.violation = render(true, false, false) + " ";
  out.ground_truth = {{"instruction_id", ids}, {"kwargs", kwargs}};
  return out;
}

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
  RLVR_CHECK(options.instruction_rows >= 0 && options.instruction_eval_rows >= 0,
             "synth: instruction row counts must be >= 0");
  // The instruction family, from its own stream so the arithmetic rows stay as they were.
  Generator inst(options.seed ^ 0x5DEECE66DULL, options.max_operand);
  std::set<std::string> inst_seen;
  for (int64_t i = 0; i < options.instruction_rows; ++i) {
    // SFT: none, one instruction, or quotes + no commas (so two instructions in one prompt are
    // not new); never an end phrase together with no commas.
    const int64_t kind = inst.pick(0, 4);
    Instructed d = instructed(inst, kind == 1 || kind == 4, kind == 2 ? static_cast<int>(inst.pick(0, 2)) : -1,
                              kind == 3 || kind == 4);
    inst_seen.insert(d.prompt);
    nlohmann::json user = message("user", d.prompt);
    sft += nlohmann::json{{"messages", {user, message("assistant", d.response)}}}.dump() + "\n";
    corpus += d.prompt + "\n" + d.response + "\n";
    // DPO: the combination end phrase + no commas, against an answer that misses one of them.
    Instructed p = instructed(inst, false, static_cast<int>(inst.pick(0, 2)), true);
    inst_seen.insert(p.prompt);
    nlohmann::json puser = message("user", p.prompt);
    dpo += nlohmann::json{{"chosen", {puser, message("assistant", p.response)}},
                          {"rejected", {puser, message("assistant", p.violation)}}}
               .dump() +
           "\n";
    // RLVR: end phrase + no commas, ground truth only.
    Instructed r = instructed(inst, false, static_cast<int>(inst.pick(0, 2)), true);
    inst_seen.insert(r.prompt);
    rlvr += nlohmann::json{{"messages", {message("user", r.prompt)}},
                           {"ground_truth", r.ground_truth.dump()},
                           {"dataset", "ifeval"}}
                .dump() +
            "\n";
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
  Generator inst_held_out(options.seed ^ 0x2545F4914F6CDD1DULL, options.max_operand);
  int64_t inst_written = 0;
  for (int64_t attempts = 0; inst_written < options.instruction_eval_rows &&
                             attempts < options.instruction_eval_rows * 50;
       ++attempts) {
    Instructed r = instructed(inst_held_out, false, static_cast<int>(inst_held_out.pick(0, 2)), true);
    if (!inst_seen.insert(r.prompt).second) continue;
    eval += nlohmann::json{{"messages", {message("user", r.prompt)}},
                           {"ground_truth", r.ground_truth.dump()},
                           {"dataset", "ifeval"}}
                .dump() +
            "\n";
    ++inst_written;
  }
  RLVR_CHECK(inst_written == options.instruction_eval_rows,
             "synth: could only find {} held-out instruction prompts unseen in training", inst_written);
  core::write_file_atomic(dir + "/sft.jsonl", sft);
  core::write_file_atomic(dir + "/dpo.jsonl", dpo);
  core::write_file_atomic(dir + "/rlvr.jsonl", rlvr);
  core::write_file_atomic(dir + "/eval.jsonl", eval);
  core::write_file_atomic(dir + "/corpus.txt", corpus);
}

}  // namespace rlvr::tools
