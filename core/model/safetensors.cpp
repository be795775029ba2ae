// safetensors reader (mmap + full header validation) and streaming atomic writer.
#include "core/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"

namespace rlvr::core {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // same limit as the Rust library

size_t element_size(const std::string& dtype) { return dtype == "F32" ? 4 : 2; }

}  // namespace

std::string safetensors_dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "F32";
    case c10::kHalf: return "F16";
    case c10::kBFloat16: return "BF16";
    default:
      throw Error(fmt::format("dtype {} cannot be stored; supported: float32 (F32), float16 (F16), "
                              "bfloat16 (BF16)", c10::toString(dtype)));
  }
}

c10::ScalarType safetensors_scalar_type(const std::string& name) {
  if (name == "F32") return c10::kFloat;
  if (name == "F16") return c10::kHalf;
  if (name == "BF16") return c10::kBFloat16;
  throw Error(fmt::format("unsupported dtype '{}' (expected F32, F16 or BF16)", name));
}

// --- Reading ---

struct SafetensorsReader::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && addr != MAP_FAILED) ::munmap(addr, size);
  }
};

SafetensorsReader::~SafetensorsReader() = default;

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("{}: not a regular file", path));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    throw Error(fmt::format("{}: truncated: file is {} bytes, too short for the 8-byte header length",
                            path, file_size));
  }
  mapping_ = std::make_shared<Mapping>();
  // Private writable mapping: an accidental write to a view changes only this process' copy.
  mapping_->addr = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int map_err = errno;
  ::close(fd);
  if (mapping_->addr == MAP_FAILED) {
    mapping_->addr = nullptr;
    throw Error(fmt::format("{}: mmap failed: {}", path, std::strerror(map_err)));
  }
  mapping_->size = file_size;
  const auto* bytes = static_cast<const uint8_t*>(mapping_->addr);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > file_size - 8) {
    throw Error(fmt::format("{}: header length {} is larger than the file ({} bytes after the "
                            "8-byte length): truncated or not a safetensors file",
                            path, header_len, file_size - 8));
  }
  if (header_len > kMaxHeaderBytes) {
    throw Error(fmt::format("{}: header length {} exceeds the {} byte limit", path, header_len,
                            kMaxHeaderBytes));
  }
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(bytes + 8),
                         reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: header is not valid JSON: {}", path, e.what()));
  }
  if (!header.is_object()) {
    throw Error(fmt::format("{}: header must be a JSON object, got {}", path, header.type_name()));
  }
  const uint64_t data_size = file_size - 8 - header_len;
  data_start_ = 8 + header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(fmt::format("{}: __metadata__ must be an object of strings", path));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          throw Error(fmt::format("{}: __metadata__ value of '{}' must be a string", path, m.key()));
        }
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) {
      return Error(fmt::format("{}: tensor '{}': {}", path, name, what));
    };
    if (!v.is_object()) throw bad("entry must be an object with dtype, shape, data_offsets");
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!v.contains(key)) throw bad(fmt::format("missing '{}'", key));
    }
    SafetensorsEntry e;
    e.name = name;
    if (!v["dtype"].is_string()) throw bad("'dtype' must be a string");
    e.dtype = v["dtype"].get<std::string>();
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16") {
      throw bad(fmt::format("unknown dtype '{}' (supported: F32, F16, BF16)", e.dtype));
    }
    const json& shape = v["shape"];
    if (!shape.is_array()) throw bad("'shape' must be a list of non-negative integers");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) throw bad(fmt::format("shape {} must be a list of non-negative integers", shape.dump()));
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t{1} << 40) || (dim != 0 && numel > (uint64_t{1} << 62) / dim)) {
        throw bad(fmt::format("shape {} is too large", shape.dump()));
      }
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      throw bad(fmt::format("data_offsets {} must be [begin, end] with non-negative integers", off.dump()));
    }
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) throw bad(fmt::format("data_offsets [{}, {}]: begin is after end", e.begin, e.end));
    if (e.end > data_size) {
      throw bad(fmt::format("data_offsets [{}, {}] out of bounds: the data section has {} bytes "
                            "(file truncated?)", e.begin, e.end, data_size));
    }
    // Overflow-safe: numel <= 2^62 but numel x element size can still wrap around 2^64.
    uint64_t expect = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(element_size(e.dtype)), &expect)) {
      throw bad(fmt::format("shape {} of {} needs more than 2^64 bytes", shape.dump(), e.dtype));
    }
    if (e.end - e.begin != expect) {
      throw bad(fmt::format("data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {}",
                            e.begin, e.end, e.end - e.begin, shape.dump(), e.dtype, expect));
    }
    entries_.push_back(std::move(e));
  }
  std::sort(entries_.begin(), entries_.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < entries_.size(); ++i) {
    const auto& prev = entries_[i - 1];
    const auto& cur = entries_[i];
    if (cur.begin < prev.end) {
      throw Error(fmt::format("{}: tensor '{}' (bytes [{}, {})) overlaps tensor '{}' (bytes [{}, {}))",
                              path, cur.name, cur.begin, cur.end, prev.name, prev.begin, prev.end));
    }
  }
  for (size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
}

const SafetensorsEntry* SafetensorsReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

at::Tensor SafetensorsReader::view(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw Error(fmt::format("{}: no tensor named '{}'", path_, name));
  auto* base = static_cast<uint8_t*>(mapping_->addr);
  void* data = base + data_start_ + e->begin;
  auto keep = mapping_;
  return torch::from_blob(data, e->shape, [keep](void*) {},
                          torch::TensorOptions().dtype(safetensors_scalar_type(e->dtype)));
}

// --- Writing ---

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RLVR_CHECK(name != "__metadata__" && !name.empty(), "{}: invalid tensor name '{}'", path, name);
    RLVR_CHECK(!header.contains(name), "{}: duplicate tensor name '{}'", path, name);
    RLVR_CHECK(t.defined(), "{}: tensor '{}' is undefined", path, name);
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(t.scalar_type());
    } catch (const Error& e) {
      throw Error(fmt::format("{}: tensor '{}': {}", path, name, e.what()));
    }
    uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((uint64_t{text.size()} >> (8 * i)) & 0xff);
  AtomicFileWriter out(path);  // core/fs.h: temp file + fsync + rename + directory fsync
  out.write(len, 8);
  out.write(text.data(), text.size());
  for (const auto& entry : tensors) {
    at::Tensor t = entry.second.detach().to(torch::kCPU).contiguous();
    out.write(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  }
  out.commit();
}

}  // namespace rlvr::core
