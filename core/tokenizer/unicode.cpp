// UTF-8 decoding, Unicode White_Space and NFC normalization (UAX #15: canonical decomposition,
// canonical ordering, canonical composition). Tables come from unicode_nfc_data.inc, generated
// by gen_unicode_tables.py; Hangul syllables are handled algorithmically.
#include "core/tokenizer/unicode.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rlvr::core::unicode {
namespace {

#include "core/tokenizer/unicode_nfc_data.inc"

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// An invalid byte b is carried through normalization as kInvalidTag | b.
constexpr uint32_t kInvalidTag = 0x80000000u;

template <size_t N>
const uint32_t* find_row(const uint32_t (*table)[N], size_t rows, uint32_t cp) {
  size_t lo = 0, hi = rows;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (table[mid][0] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (lo < rows && table[lo][0] == cp) ? table[lo] : nullptr;
}

int ccc_of(uint32_t cp) {
  if (cp < 0x300 || (cp & kInvalidTag)) return 0;
  const uint32_t* row = find_row(kCccTable, sizeof(kCccTable) / sizeof(kCccTable[0]), cp);
  return row ? static_cast<int>(row[1]) : 0;
}

bool is_unsafe(uint32_t cp) {
  if (cp < 0x300) return false;
  size_t lo = 0, hi = sizeof(kNfcUnsafeRanges) / sizeof(kNfcUnsafeRanges[0]);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (kNfcUnsafeRanges[mid][1] < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < sizeof(kNfcUnsafeRanges) / sizeof(kNfcUnsafeRanges[0]) && kNfcUnsafeRanges[lo][0] <= cp;
}

void decompose(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp & kInvalidTag) {
    out->push_back(cp);
    return;
  }
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  const uint32_t* row =
      cp < 0xC0 ? nullptr : find_row(kDecompTable, sizeof(kDecompTable) / sizeof(kDecompTable[0]), cp);
  if (!row) {
    out->push_back(cp);
    return;
  }
  decompose(row[1], out);
  if (row[2]) decompose(row[2], out);
}

// Returns the primary composite of (a, b), or 0 when there is none.
uint32_t compose_pair(uint32_t a, uint32_t b) {
  if ((a | b) & kInvalidTag) return 0;
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  constexpr size_t rows = sizeof(kComposeTable) / sizeof(kComposeTable[0]);
  const uint32_t key[2] = {a, b};
  const auto* it = std::lower_bound(kComposeTable, kComposeTable + rows, key,
                                    [](const uint32_t* row, const uint32_t* k) {
                                      return row[0] < k[0] || (row[0] == k[0] && row[1] < k[1]);
                                    });
  return (it != kComposeTable + rows && (*it)[0] == a && (*it)[1] == b) ? (*it)[2] : 0;
}

}  // namespace

int32_t decode_utf8(std::string_view s, size_t pos, size_t* len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  size_t avail = s.size() - pos;
  unsigned char c = p[0];
  *len = 1;
  if (c < 0x80) return c;
  int n;
  int32_t cp;
  int32_t min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (avail < static_cast<size_t>(n)) return -1;
  for (int i = 1; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *len = static_cast<size_t>(n);
  return cp;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    if (decode_utf8(s, i, &len) < 0) return false;
    i += len;
  }
  return true;
}

bool is_white_space(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool is_nfc_quick(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    // Lead bytes below 0xCC encode code points below U+0300: always NFC-stable.
    if (c < 0xCC) {
      ++i;
      continue;
    }
    size_t len;
    int32_t cp = decode_utf8(s, i, &len);
    if (cp >= 0 && is_unsafe(static_cast<uint32_t>(cp))) return false;
    i += len;
  }
  return true;
}

std::string nfc(std::string_view s) {
  if (is_nfc_quick(s)) return std::string(s);
  // 1. Full canonical decomposition.
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    int32_t cp = decode_utf8(s, i, &len);
    if (cp < 0) {
      cps.push_back(kInvalidTag | static_cast<unsigned char>(s[i]));
    } else {
      decompose(static_cast<uint32_t>(cp), &cps);
    }
    i += len;
  }
  // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (ccc_of(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && ccc_of(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + static_cast<std::ptrdiff_t>(i),
                     cps.begin() + static_cast<std::ptrdiff_t>(j),
                     [](uint32_t a, uint32_t b) { return ccc_of(a) < ccc_of(b); });
    i = j;
  }
  // 3. Canonical composition.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  std::ptrdiff_t starter = -1;  // index in `out` of the last starter
  int last_ccc = -1;
  for (uint32_t cp : cps) {
    int ccc = ccc_of(cp);
    if (starter >= 0) {
      // Blocked when a character between the starter and cp has ccc 0 or ccc >= cp's ccc.
      bool blocked = static_cast<size_t>(starter) + 1 != out.size() && (last_ccc == 0 || last_ccc >= ccc);
      if (!blocked) {
        uint32_t composite = compose_pair(out[static_cast<size_t>(starter)], cp);
        if (composite) {
          out[static_cast<size_t>(starter)] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) {
      starter = static_cast<std::ptrdiff_t>(out.size());
      last_ccc = -1;
    } else {
      last_ccc = ccc;
    }
    out.push_back(cp);
    if (ccc == 0) last_ccc = 0;
  }
  std::string result;
  result.reserve(s.size());
  for (uint32_t cp : out) {
    if (cp & kInvalidTag) {
      result.push_back(static_cast<char>(cp & 0xFF));
    } else {
      append_utf8(&result, cp);
    }
  }
  return result;
}

const char* nfc_unicode_version() { return RLVR_NFC_UNICODE_VERSION; }

}  // namespace rlvr::core::unicode
