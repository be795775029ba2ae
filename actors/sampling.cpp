// Token selection and counter-based random numbers (see sampling.h).
#include "actors/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace rlvr::actors {

namespace {

// SplitMix64 finalizer: a bijective mix with full avalanche.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

void SamplingParams::validate() const {
  RLVR_CHECK(std::isfinite(temperature) && temperature >= 0,
             "temperature must be a finite number >= 0 (0 = greedy), got {}", temperature);
  RLVR_CHECK(top_p > 0 && top_p <= 1, "top_p must be in (0, 1], got {}", top_p);
  RLVR_CHECK(top_k >= 0, "top_k must be >= 0 (0 = off), got {}", top_k);
  RLVR_CHECK(max_new_tokens >= 1, "max_new_tokens must be >= 1, got {}", max_new_tokens);
  RLVR_CHECK(n >= 1, "n (samples per prompt) must be >= 1, got {}", n);
  for (const auto& s : stop) RLVR_CHECK(!s.empty(), "stop strings must not be empty");
}

uint64_t sample_stream(uint64_t seed, int64_t prompt_index, int64_t sample_index) {
  uint64_t h = mix64(seed ^ 0x72C0FFEEull);
  h = mix64(h ^ static_cast<uint64_t>(prompt_index));
  return mix64(h ^ (static_cast<uint64_t>(sample_index) * 0xD1B54A32D192ED03ull));
}

double stream_uniform(uint64_t stream, int64_t step) {
  uint64_t r = mix64(stream ^ mix64(static_cast<uint64_t>(step)));
  return static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0);  // 53 bits -> [0, 1)
}

TokenChoice choose_token(const float* logits, int64_t vocab, const SamplingParams& params, double u,
                         ChooseScratch* scratch) {
  RLVR_ASSERT(vocab >= 1);
  const double tau = params.temperature > 0 ? params.temperature : 1.0;
  const double inv_tau = 1.0 / tau;
  // Max and log-normalizer of the temperature-scaled distribution (needed for the logprob).
  int32_t argmax = 0;
  float mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) {
    if (logits[i] > mx) {
      mx = logits[i];
      argmax = static_cast<int32_t>(i);
    }
  }
  const double m = static_cast<double>(mx) * inv_tau;
  auto& w = scratch->weights;
  w.resize(static_cast<size_t>(vocab));
  double z = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double e = std::exp(static_cast<double>(logits[i]) * inv_tau - m);
    w[i] = e;
    z += e;
  }
  const double log_z = m + std::log(z);
  auto logprob_of = [&](int32_t t) {
    return static_cast<float>(static_cast<double>(logits[t]) * inv_tau - log_z);
  };
  if (params.greedy()) return {argmax, logprob_of(argmax)};

  const bool use_k = params.top_k > 0 && params.top_k < vocab;
  const bool use_p = params.top_p < 1.0;
  if (!use_k && !use_p) {
    // Inverse CDF over the whole vocabulary in id order.
    const double target = u * z;
    double acc = 0;
    int32_t last = argmax;
    for (int64_t i = 0; i < vocab; ++i) {
      if (w[i] <= 0) continue;
      acc += w[i];
      last = static_cast<int32_t>(i);
      if (acc > target) return {last, logprob_of(last)};
    }
    return {last, logprob_of(last)};  // rounding: u*z reached the total
  }

  // Candidates in descending probability (ties: lower id first).
  auto& order = scratch->order;
  auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  int64_t limit = use_k ? params.top_k : vocab;
  auto take_top = [&](int64_t k) {
    order.resize(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) order[i] = static_cast<int32_t>(i);
    if (k < vocab) {
      std::nth_element(order.begin(), order.begin() + k, order.end(), better);
      order.resize(static_cast<size_t>(k));
    }
    std::sort(order.begin(), order.end(), better);
  };
  int64_t kept = 0;
  double kept_mass = 0;
  if (!use_p) {
    take_top(limit);
    kept = limit;
    for (int64_t j = 0; j < kept; ++j) kept_mass += w[order[j]];
  } else {
    // Mass of the top-k set (all tokens without top-k), then the nucleus inside it. Without
    // top-k, grow the sorted prefix geometrically until it holds top_p of the mass.
    double cand_mass = 0;
    if (use_k) {
      take_top(limit);
      for (int64_t j = 0; j < limit; ++j) cand_mass += w[order[j]];
    } else {
      cand_mass = z;
    }
    for (int64_t k = use_k ? limit : std::min<int64_t>(64, vocab);; k = std::min<int64_t>(k * 4, vocab)) {
      if (!use_k) take_top(k);
      const int64_t avail = static_cast<int64_t>(order.size());
      double acc = 0;
      int64_t j = 0;
      for (; j < avail; ++j) {
        acc += w[order[j]];
        if (acc >= params.top_p * cand_mass) break;
      }
      if (j < avail || avail == limit) {
        kept = std::min<int64_t>(j + 1, avail);
        kept_mass = 0;
        for (int64_t i = 0; i < kept; ++i) kept_mass += w[order[i]];
        break;
      }
    }
  }
  const double target = u * kept_mass;
  double acc = 0;
  for (int64_t j = 0; j < kept; ++j) {
    acc += w[order[j]];
    if (acc > target) return {order[j], logprob_of(order[j])};
  }
  return {order[kept - 1], logprob_of(order[kept - 1])};
}

}  // namespace rlvr::actors
