// Fuzz target: the safetensors reader (core/model/safetensors.h SafetensorsReader): header
// length, JSON header, dtypes, shapes, data offsets, overlaps.
//
// Input: a whole .safetensors file. The reader parses its header in the constructor, which
// lives in a LibTorch translation unit, so this target is built only with RLVR_TORCH=ON (it
// compiles core/model/safetensors.cpp alone, not the rest of rlvr_model). For every accepted
// file each tensor is viewed and summed: the bytes a view covers must lie inside the mapping
// (a read outside it faults), and the entry's size must match its shape and dtype.
#include <cstdint>

#include <torch/torch.h>

#include "core/model/safetensors.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rlvr::fuzz::scratch().write("model.safetensors", rlvr::fuzz::as_view(data, size));
  rlvr::fuzz::expect_clean([&] {
    rlvr::core::SafetensorsReader reader(path);
    uint64_t header_len = 0;  // the reader accepted the file, so it has the 8-byte length
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    uint64_t previous_end = 0;
    for (const auto& e : reader.entries()) {
      RLVR_FUZZ_EXPECT(e.begin >= previous_end, "entries overlap or are out of order: " + e.name);
      RLVR_FUZZ_EXPECT(8 + header_len + e.end <= size, "entry past the end of the file: " + e.name);
      previous_end = e.end;
      RLVR_FUZZ_EXPECT(reader.find(e.name) != nullptr, "find() misses an entry: " + e.name);
      at::Tensor t = reader.view(e.name);
      RLVR_FUZZ_EXPECT(static_cast<uint64_t>(t.numel() * t.element_size()) == e.end - e.begin,
                       "a view's size differs from its data_offsets: " + e.name);
      if (t.numel() > 0 && t.numel() <= (1 << 16)) (void)t.to(torch::kFloat).sum().item<double>();
    }
  });
  return 0;
}
