// Atomic file writes and the metrics.jsonl writer.
#include "core/fs.h"

#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/run_dir.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using rlvr::testing::error_message;
using rlvr::testing::TempDir;

TEST(AtomicWrite, CreatesParentsAndReplacesContents) {
  TempDir dir;
  std::string p = dir.path() + "/a/b/file.txt";
  write_file_atomic(p, "first");
  EXPECT_EQ(read_file(p), "first");
  write_file_atomic(p, std::string("second\0with nul", 15));
  EXPECT_EQ(read_file(p), std::string("second\0with nul", 15));
  // No temp files are left behind.
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path() + "/a/b")) (void)e, ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(AtomicWrite, FailureLeavesOldFileUntouched) {
  if (::geteuid() == 0) {
    // root ignores directory permissions; use a path whose parent is a regular file instead.
    TempDir dir;
    std::string blocker = dir.write("blocker", "x");
    std::string msg = error_message([&] { write_file_atomic(blocker + "/child.txt", "data"); });
    EXPECT_NE(msg.find(blocker), std::string::npos) << msg;
    EXPECT_EQ(read_file(blocker), "x");
    return;
  }
  TempDir dir;
  std::string p = dir.write("ro/file.txt", "old");
  ::chmod((dir.path() + "/ro").c_str(), 0555);
  std::string msg = error_message([&] { write_file_atomic(p, "new"); });
  ::chmod((dir.path() + "/ro").c_str(), 0755);
  EXPECT_NE(msg.find("cannot create temp file"), std::string::npos) << msg;
  EXPECT_EQ(read_file(p), "old");
}

TEST(ReadFile, DirectoryAndMissingFileAreClearErrors) {
  TempDir dir;
  EXPECT_EQ(error_message([&] { read_file(dir.path()); }),
            dir.path() + ": is a directory, expected a file");
  EXPECT_EQ(error_message([&] { read_file(dir.path() + "/none"); }),
            dir.path() + "/none: cannot open for reading: No such file or directory");
}

std::vector<nlohmann::json> rows(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::string text = read_file(path);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out.push_back(nlohmann::json::parse(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}

TEST(MetricsWriter, WritesOneObjectPerLine) {
  TempDir dir;
  std::string p = dir.path() + "/metrics.jsonl";
  {
    MetricsWriter w(p);
    w.write(1, {{"loss", 2.5}, {"reward", 0.0}});
    w.write(2, {{"loss", std::nan("")}});
  }
  auto r = rows(p);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["step"], 1);
  EXPECT_DOUBLE_EQ(r[0]["loss"].get<double>(), 2.5);
  EXPECT_TRUE(r[0]["time"].is_number());
  EXPECT_TRUE(r[1]["loss"].is_null());
}

TEST(MetricsWriter, TornLastLineIsDroppedAndResumeTruncates) {
  TempDir dir;
  std::string p = dir.write("metrics.jsonl",
                            "{\"step\":1,\"time\":1.0,\"loss\":3}\n"
                            "{\"step\":2,\"time\":2.0,\"loss\":2}\n"
                            "{\"step\":3,\"time\":3.0,\"loss\":1}\n"
                            "{\"step\":4,\"ti");
  {
    MetricsWriter w(p, /*resume_after_step=*/2);
    w.write(3, {{"loss", 1.5}});
  }
  auto r = rows(p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[2]["step"], 3);
  EXPECT_DOUBLE_EQ(r[2]["loss"].get<double>(), 1.5);
  EXPECT_GE(r[2]["time"].get<double>(), 2.0);  // wall time continues from the kept rows
}

TEST(RunDir, PreparesLayoutAndConfig) {
  TempDir dir;
  std::string run = dir.path() + "/run1";
  prepare_run_dir(run, "run:\n  seed: 1\n");
  EXPECT_EQ(read_file(run + "/config.yaml"), "run:\n  seed: 1\n");
  EXPECT_TRUE(std::filesystem::is_directory(run + "/checkpoints"));
  RLVR_LOG_INFO("hello {}", "run dir");
  spdlog::default_logger_raw()->flush();
  EXPECT_NE(read_file(run + "/logs/rlvr.log").find("hello run dir"), std::string::npos);
}

}  // namespace
}  // namespace rlvr::core
