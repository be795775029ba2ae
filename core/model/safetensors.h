// The safetensors file format (https://github.com/huggingface/safetensors), read and written
// without the Rust library: 8 bytes little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"k": "v"}}, then the raw little-endian tensor bytes. Offsets are relative
// to the start of the data section. Files are read through mmap; tensors are zero-copy views
// that keep the mapping alive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace rlvr::core {

// One tensor entry of a safetensors header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;           // "F32", "F16" or "BF16"
  std::vector<int64_t> shape;
  uint64_t begin = 0;          // byte offsets into the data section, end exclusive
  uint64_t end = 0;
};

// A validated, memory-mapped safetensors file. Immutable after construction, so concurrent
// reads from several threads are safe. Non-copyable; tensors returned by view() share ownership
// of the mapping and stay valid after the reader is destroyed.
class SafetensorsReader {
 public:
  // Opens, maps and validates `path`: file long enough for the header length, header length
  // within the file and below 100 MB, valid JSON, every entry with a known dtype (F32, F16,
  // BF16), a non-negative shape, data_offsets inside the data section whose size matches the
  // shape, and no two tensors overlapping. Throws rlvr::Error naming the file (and the tensor)
  // for every violation.
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  // Entries in file order of their data offsets.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // The entry called `name`, or nullptr.
  const SafetensorsEntry* find(const std::string& name) const;
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A CPU tensor of the stored dtype viewing the mapped bytes (read-only memory: do not write
  // to it; copy_ it into a parameter or clone() it). Throws rlvr::Error when `name` is absent.
  at::Tensor view(const std::string& name) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  uint64_t data_start_ = 0;  // 8 + header length
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any device; float32, float16 or bfloat16) as one safetensors file at `path`,
// atomically (temp file in the same directory, fsync, rename, directory fsync), streaming tensor
// by tensor so the whole file is never held in memory. The header is padded with spaces to a
// multiple of 8 bytes, as the reference implementation does. Names must be unique and not
// "__metadata__". Throws rlvr::Error naming the file/tensor on bad input or I/O failure; on
// failure `path` is left untouched.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// "F32" / "F16" / "BF16" for a tensor dtype; throws rlvr::Error for other dtypes.
std::string safetensors_dtype_name(c10::ScalarType dtype);
// The scalar type of a safetensors dtype name; throws rlvr::Error for names other than F32, F16, BF16.
c10::ScalarType safetensors_scalar_type(const std::string& name);

}  // namespace rlvr::core
