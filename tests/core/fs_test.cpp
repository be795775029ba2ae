// Atomic file and directory writes, content hashes and the metrics.jsonl writer.
#include "core/fs.h"

#include <sys/stat.h>

#include <algorithm>
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

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AtomicFileWriter, StreamsToATempFileAndPublishesOnCommit) {
  TempDir dir;
  std::string p = dir.write("model.bin", "old");
  {
    AtomicFileWriter w(p);
    w.write("new ", 4);
    w.write(std::string_view("contents"));
    // Until commit the target keeps its old bytes and the data sits in <path>.tmp.<pid>.
    EXPECT_EQ(read_file(p), "old");
    EXPECT_EQ(read_file(p + ".tmp." + std::to_string(::getpid())), "new contents");
    w.commit();
  }
  EXPECT_EQ(read_file(p), "new contents");
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"model.bin"});
}

TEST(AtomicFileWriter, KeepPartialLeavesANamedTempFileWhenAbandoned) {
  TempDir dir;
  const std::string p = dir.path() + "/out.jsonl";
  {
    AtomicFileWriter w(p, AtomicFileWriter::Options{p + ".partial", /*keep_partial=*/true});
    EXPECT_EQ(w.temp_path(), p + ".partial");
    w.write("done so far\n");
  }
  EXPECT_EQ(read_file(p + ".partial"), "done so far\n");
  EXPECT_FALSE(std::filesystem::exists(p));
}

TEST(AtomicFileWriter, AbandonedWriterRemovesItsTempFileAndKeepsTheOldFile) {
  TempDir dir;
  std::string p = dir.write("model.bin", "old");
  try {
    AtomicFileWriter w(p);
    w.write("half of a new ", 14);
    throw std::runtime_error("tensor conversion failed midway");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file(p), "old");
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"model.bin"});
}

TEST(AppendLine, AppendsWholeLines) {
  TempDir dir;
  std::string p = dir.path() + "/sub/resumes.jsonl";
  append_line(p, R"({"step": 4})");
  append_line(p, R"({"step": 6})");
  EXPECT_EQ(read_file(p), "{\"step\": 4}\n{\"step\": 6}\n");
}

TEST(ReplaceDirAtomic, MovesIntoPlaceWhenTheTargetIsAbsent) {
  TempDir dir;
  dir.write("tmp/a.txt", "new");
  replace_dir_atomic(dir.path() + "/tmp", dir.path() + "/final");
  EXPECT_EQ(read_file(dir.path() + "/final/a.txt"), "new");
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"final"});
}

TEST(ReplaceDirAtomic, SwapsAnExistingDirectoryAndDeletesTheOldOne) {
  TempDir dir;
  dir.write("final/a.txt", "old");
  dir.write("final/only_old.txt", "old");
  dir.write("tmp/a.txt", "new");
  replace_dir_atomic(dir.path() + "/tmp", dir.path() + "/final");
  EXPECT_EQ(read_file(dir.path() + "/final/a.txt"), "new");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/final/only_old.txt"));
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"final"});
}

TEST(ReplaceDirAtomic, MissingSourceIsAnErrorAndLeavesTheTargetAlone) {
  TempDir dir;
  dir.write("final/a.txt", "old");
  std::string msg = error_message([&] { replace_dir_atomic(dir.path() + "/nope", dir.path() + "/final"); });
  EXPECT_EQ(msg, dir.path() + "/final: cannot move into place: " + dir.path() + "/nope is not a directory");
  EXPECT_EQ(read_file(dir.path() + "/final/a.txt"), "old");
}

TEST(ReplaceDirAtomic, TwoRenameFallbackReplacesAndCleansUp) {
  TempDir dir;
  dir.write("final/a.txt", "old");
  dir.write("tmp/a.txt", "new");
  detail::replace_dir_with_two_renames(dir.path() + "/tmp", dir.path() + "/final");
  EXPECT_EQ(read_file(dir.path() + "/final/a.txt"), "new");
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"final"});
}

TEST(ContentHash, IsXxh64) {
  // Reference values from libxxhash 0.8 (XXH64, seed 0).
  EXPECT_EQ(content_hash(""), "ef46db3751d8e999");
  EXPECT_EQ(content_hash("a"), "d24ec4f1a98c6e5b");
  EXPECT_EQ(content_hash("abc"), "44bc2cf5ad770999");
  EXPECT_EQ(content_hash("The quick brown fox jumps over the lazy dog"), "0b242d361fda71bc");
}

TEST(ContentHash, FilesAreStreamedAcrossReadBoundaries) {
  TempDir dir;
  std::string big(3 * (1 << 20) + 77, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7 + 3) % 256);
  std::string p = dir.write("big.bin", big);
  EXPECT_EQ(file_content_hash(p), "e2cc556f930c7688");  // libxxhash XXH64 of the same bytes
  EXPECT_EQ(content_hash(big), "e2cc556f930c7688");
  EXPECT_EQ(error_message([&] { file_content_hash(dir.path() + "/none"); }),
            dir.path() + "/none: cannot open for reading: No such file or directory");
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
