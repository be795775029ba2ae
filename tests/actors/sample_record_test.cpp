// OrderedLineWriter: order restored, partial output kept on failure, atomic publish.
#include "actors/sample_record.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

using rlvr::testing::error_message;
using rlvr::testing::TempDir;

TEST(OrderedLineWriter, WritesInIndexOrderAndPublishesOnFinish) {
  TempDir dir;
  const std::string out = dir.path() + "/o.jsonl";
  core::write_file_atomic(out, "old\n");
  OrderedLineWriter w(out);
  w.add(2, "c\n");
  w.add(0, "a\n");
  EXPECT_EQ(w.written(), 1);
  EXPECT_EQ(core::read_file(out + ".partial"), "a\n") << "line 2 waits for line 1";
  EXPECT_EQ(core::read_file(out), "old\n") << "the target is replaced only at the end";
  w.add(1, "b\n");
  EXPECT_EQ(w.written(), 3);
  w.finish(3);
  EXPECT_EQ(core::read_file(out), "a\nb\nc\n");
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST(OrderedLineWriter, AnErrorKeepsTheFinishedLinesInThePartialFile) {
  TempDir dir;
  const std::string out = dir.path() + "/o.jsonl";
  {
    OrderedLineWriter w(out);
    w.add(0, "a\n");
    w.add(1, "b\n");
    w.add(3, "d\n");
    EXPECT_EQ(error_message([&] { w.finish(4); }),
              out + ": line 2 of 4 was never produced; the lines before it are in " + out + ".partial");
  }
  EXPECT_EQ(core::read_file(out + ".partial"), "a\nb\n");
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace rlvr::actors
