// The `math` verifier: candidate extraction and the equivalence cascade. See math.h.
#include "verifiers/math.h"

#include <nlohmann/json.hpp>

#include "verifiers/math_expr.h"
#include "verifiers/math_normalize.h"
#include "verifiers/text.h"

namespace rlvr::verifiers {
namespace math {

std::vector<std::string> extract_candidates(std::string_view response) {
  std::vector<std::string> out;
  if (auto boxed = last_boxed_only_string(response)) {
    if (auto inner = remove_boxed(*boxed)) out.push_back(std::move(*inner));
  }
  if (auto minerva = minerva_answer(response)) out.push_back(normalize_final_answer(*minerva));
  return out;
}

bool is_equivalent(std::string_view candidate, std::string_view ground_truth) {
  if (hendrycks_is_equiv(candidate, ground_truth)) return true;
  auto a = strip_string(candidate);
  auto b = strip_string(ground_truth);
  std::string_view na = a ? std::string_view(*a) : candidate;
  std::string_view nb = b ? std::string_view(*b) : ground_truth;
  if (expressions_equivalent(na, nb)) return true;
  // strip_string can break valid LaTeX (\sqrt[3]{x} -> \sqrt{[}3]{x}, \sin x -> \sinx); try the
  // raw strings too, each side on its own (one side may need normalizing, the other not).
  if (na != candidate && expressions_equivalent(candidate, nb)) return true;
  if (nb != ground_truth && expressions_equivalent(na, ground_truth)) return true;
  if (na == candidate || nb == ground_truth) return false;
  return expressions_equivalent(candidate, ground_truth);
}

}  // namespace math

namespace {

// Ground truths: one string, or a JSON list of acceptable strings (only when it looks like one:
// `["...`; "[1,2]" stays an interval).
std::vector<std::string> ground_truths(const std::string& gt) {
  size_t b = gt.find_first_not_of(" \t\n");
  if (b != std::string::npos && gt.compare(b, 2, "[\"") == 0) {
    auto j = nlohmann::json::parse(gt, nullptr, /*allow_exceptions=*/false);
    if (j.is_array() && !j.empty()) {
      std::vector<std::string> out;
      for (const auto& e : j) {
        if (!e.is_string()) return {gt};
        out.push_back(e.get<std::string>());
      }
      return out;
    }
  }
  return {gt};
}

std::string shorten(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out(cap_input(s, kMax));
  if (s.size() > kMax) out += "...";
  return out;
}

}  // namespace

VerifyResult MathVerifier::verify(const VerifyInput& input) const {
  // The answer is at the end: <think> sections are decided over the whole response, then the
  // last max_input_bytes are read.
  std::string text = strip_think_tail(input.response, options_.max_input_bytes);
  std::vector<std::string> candidates = math::extract_candidates(text);
  VerifyResult r;
  if (candidates.empty()) {
    r.reason = "no \\boxed{} answer and no 'Final Answer: The final answer is' line";
    return r;
  }
  r.answer_found = true;
  std::vector<std::string> truths = ground_truths(input.ground_truth);
  for (const auto& c : candidates) {
    for (const auto& gt : truths) {
      if (math::is_equivalent(c, gt)) {
        r.score = 1.0;
        r.reason = "correct";
        return r;
      }
    }
  }
  r.reason = "wrong answer: " + shorten(candidates.front());
  return r;
}

}  // namespace rlvr::verifiers
