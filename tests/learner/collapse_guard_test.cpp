// CollapseGuard (learner/collapse_guard.h): the no-signal and reward-collapse checks, and what
// must not trigger them (a window not yet full, a policy that gets everything right, noise).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "learner/collapse_guard.h"

namespace rlvr::learner {
namespace {

using ::testing::HasSubstr;

core::CollapseConfig config(int64_t window, double min_mixed, double drop) {
  core::CollapseConfig c;
  c.window = window;
  c.min_mixed_fraction = min_mixed;
  c.reward_drop = drop;
  return c;
}

TEST(CollapseGuard, AllWrongGroupsStopTheRunOnceTheWindowIsFull) {
  CollapseGuard g(config(3, 0.05, 0));
  EXPECT_FALSE(g.add(1, 0.0, 0.0, 1.0));
  EXPECT_FALSE(g.add(2, 0.0, 0.0, 1.0)) << "the window is not full yet";
  auto why = g.add(3, 0.0, 0.0, 1.0);
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("no learning signal: over steps 1-3 only 0.0% of the groups had mixed rewards"));
}

TEST(CollapseGuard, APolicyThatGetsEverythingRightIsNotACollapse) {
  CollapseGuard g(config(3, 0.05, 0.5));
  for (int step = 1; step <= 10; ++step) EXPECT_FALSE(g.add(step, 10.0, 1.0, 1.0)) << step;
}

TEST(CollapseGuard, SomeMixedGroupsKeepItRunning) {
  CollapseGuard g(config(3, 0.05, 0));
  for (int step = 1; step <= 10; ++step) EXPECT_FALSE(g.add(step, 1.0, 0.1, 0.9)) << step;
}

TEST(CollapseGuard, ARewardThatFallsBelowHalfItsBestWindowStopsTheRun) {
  CollapseGuard g(config(2, 0, 0.5));
  EXPECT_FALSE(g.add(1, 4.0, 0.4, 0.2));
  EXPECT_FALSE(g.add(2, 6.0, 0.6, 0.2));  // window mean 5: the best so far
  EXPECT_FALSE(g.add(3, 4.0, 0.4, 0.2));  // 5
  EXPECT_FALSE(g.add(4, 2.0, 0.2, 0.2));  // 3: above 2.5
  auto why = g.add(5, 2.0, 0.2, 0.2);     // 2: below half of 5
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("the reward collapsed: mean reward 2.000 over steps 4-5, below 50% of the best window "
                              "mean 5.000"));
}

TEST(CollapseGuard, WindowZeroDisablesBothChecks) {
  CollapseGuard g(config(0, 0.5, 0.5));
  for (int step = 1; step <= 5; ++step) EXPECT_FALSE(g.add(step, step == 1 ? 10.0 : 0.0, 0.0, 1.0));
}

}  // namespace
}  // namespace rlvr::learner
