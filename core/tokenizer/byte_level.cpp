// GPT-2 byte <-> character alphabet.
#include "core/tokenizer/byte_level.h"

#include <array>

#include "core/tokenizer/unicode.h"

namespace rlvr::core::byte_level {
namespace {

struct Tables {
  std::array<std::string, 256> chars;
  std::array<int, 324> byte_of_cp;  // code points used are < 0x144
  Tables() {
    byte_of_cp.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      int cp = printable ? b : 256 + n++;
      chars[static_cast<size_t>(b)].clear();
      unicode::append_utf8(&chars[static_cast<size_t>(b)], static_cast<uint32_t>(cp));
      byte_of_cp[static_cast<size_t>(cp)] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& char_for_byte(unsigned char byte) { return tables().chars[byte]; }

std::string encode(std::string_view bytes) {
  const auto& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.chars[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> decode(std::string_view text) {
  const auto& t = tables();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len;
    int32_t cp = unicode::decode_utf8(text, i, &len);
    if (cp < 0 || cp >= static_cast<int32_t>(t.byte_of_cp.size()) || t.byte_of_cp[static_cast<size_t>(cp)] < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(t.byte_of_cp[static_cast<size_t>(cp)]));
    i += len;
  }
  return out;
}

}  // namespace rlvr::core::byte_level
