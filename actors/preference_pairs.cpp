// Choosing on-policy preference pairs (see preference_pairs.h).
#include "actors/preference_pairs.h"

#include <algorithm>

#include "core/error.h"

namespace rlvr::actors {
namespace {

// A score this close to 1 is the verifier's maximum (rounding of partial-credit sums).
constexpr double kFullScore = 1.0 - 1e-9;

// splitmix64 step: the draw for (seed, key, which) and nothing else.
uint64_t mix(uint64_t seed, int64_t key, uint64_t which) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(key) * 0xD1B54A32D192ED03ULL +
               which * 0xBF58476D1CE4E5B9ULL + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t pick_one(const std::vector<int64_t>& from, uint64_t seed, int64_t key, uint64_t which) {
  RLVR_ASSERT(!from.empty());
  return from[static_cast<size_t>(mix(seed, key, which) % from.size())];
}

}  // namespace

const char* sample_class_name(SampleClass c) {
  switch (c) {
    case SampleClass::kCorrect: return "correct";
    case SampleClass::kWrong: return "wrong";
    case SampleClass::kNoAnswer: return "no_answer";
    case SampleClass::kTruncated: return "truncated";
    case SampleClass::kEmpty: return "empty";
    case SampleClass::kUnscored: return "unscored";
  }
  return "?";
}

SampleClass classify_sample(const ScoredSample& s) {
  if (s.verifier_error) return SampleClass::kUnscored;
  if (s.text.empty()) return SampleClass::kEmpty;
  if (s.finish_reason == FinishReason::kLength) return SampleClass::kTruncated;
  if (!s.answer_found) return SampleClass::kNoAnswer;
  return s.score >= kFullScore ? SampleClass::kCorrect : SampleClass::kWrong;
}

RejectedPick parse_rejected_pick(const std::string& text, const std::string& flag) {
  if (text == "wrong-first") return RejectedPick::kWrongFirst;
  if (text == "uniform") return RejectedPick::kUniform;
  throw Error(fmt::format("{}: unknown value '{}'; expected wrong-first or uniform", flag, excerpt(text)));
}

const char* pair_skip_name(PairSkip s) {
  switch (s) {
    case PairSkip::kNone: return "";
    case PairSkip::kAllCorrect: return "all_correct";
    case PairSkip::kNoneCorrect: return "none_correct";
  }
  return "?";
}

PairChoice choose_pair(const std::vector<ScoredSample>& samples, uint64_t seed, int64_t key, RejectedPick pick) {
  // Sort by sample index so that the draw does not depend on the order samples finished in.
  std::vector<int64_t> order(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return samples[static_cast<size_t>(a)].sample_index < samples[static_cast<size_t>(b)].sample_index;
  });
  PairChoice c;
  std::vector<SampleClass> cls(samples.size());
  std::vector<int64_t> correct;
  for (int64_t i : order) {
    cls[static_cast<size_t>(i)] = classify_sample(samples[static_cast<size_t>(i)]);
    ++c.counts[static_cast<int>(cls[static_cast<size_t>(i)])];
    if (cls[static_cast<size_t>(i)] == SampleClass::kCorrect) correct.push_back(i);
  }
  if (correct.empty()) {
    c.skip = PairSkip::kNoneCorrect;
    return c;
  }
  c.chosen = pick_one(correct, seed, key, 0);
  const std::string& chosen_text = samples[static_cast<size_t>(c.chosen)].text;
  // Rejected tiers; a response identical to the chosen one teaches nothing and is left out.
  const SampleClass tiers[3] = {SampleClass::kWrong, SampleClass::kNoAnswer, SampleClass::kTruncated};
  std::vector<int64_t> candidates;
  for (const SampleClass tier : tiers) {
    for (int64_t i : order) {
      if (cls[static_cast<size_t>(i)] == tier && samples[static_cast<size_t>(i)].text != chosen_text) {
        candidates.push_back(i);
      }
    }
    if (pick == RejectedPick::kWrongFirst && !candidates.empty()) break;
  }
  if (candidates.empty()) {
    c.skip = PairSkip::kAllCorrect;
    c.chosen = -1;
    return c;
  }
  c.rejected = pick_one(candidates, seed, key, 1);
  c.rejected_class = cls[static_cast<size_t>(c.rejected)];
  return c;
}

nlohmann::json preference_row(const PromptRow& row, const std::vector<ScoredSample>& samples,
                              const PairChoice& choice) {
  RLVR_ASSERT(choice.skip == PairSkip::kNone && choice.chosen >= 0 && choice.rejected >= 0);
  const ScoredSample& ch = samples[static_cast<size_t>(choice.chosen)];
  const ScoredSample& rj = samples[static_cast<size_t>(choice.rejected)];
  nlohmann::json prompt = nlohmann::json::array();
  for (const auto& m : row.messages) prompt.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::json chosen = prompt, rejected = prompt;
  chosen.push_back({{"role", "assistant"}, {"content", ch.text}});
  rejected.push_back({{"role", "assistant"}, {"content", rj.text}});
  nlohmann::json j;
  j["chosen"] = std::move(chosen);
  j["rejected"] = std::move(rejected);
  j["dataset"] = row.dataset;
  if (row.fields.is_object() && row.fields.contains("ground_truth")) {
    j["ground_truth"] = row.fields["ground_truth"];
  } else {
    j["ground_truth"] = row.ground_truth;
  }
  j["line"] = row.line;
  j["chosen_score"] = ch.score;
  j["rejected_score"] = rj.score;
  j["rejected_class"] = sample_class_name(choice.rejected_class);
  j["chosen_sample"] = ch.sample_index;
  j["rejected_sample"] = rj.sample_index;
  j["chosen_finish_reason"] = finish_reason_name(ch.finish_reason);
  j["rejected_finish_reason"] = finish_reason_name(rj.finish_reason);
  j["rejected_reason"] = rj.reason;
  j["n"] = samples.size();
  j["num_correct"] = choice.counts[static_cast<int>(SampleClass::kCorrect)];
  return j;
}

}  // namespace rlvr::actors
