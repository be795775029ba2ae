// The actor-learner scheduler: the credit window, staleness, returned prompts, no prompt lost or
// repeated, accounting, and checkpoint state.
#include "learner/rl_scheduler.h"

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace rlvr::learner {
namespace {

SchedulerOptions opts(int64_t groups, int64_t staleness, int64_t prompts, int64_t epochs = 0) {
  SchedulerOptions o;
  o.groups_per_step = groups;
  o.max_staleness = staleness;
  o.num_prompts = prompts;
  o.prompt_epochs = epochs;
  o.seed = 3;
  return o;
}

TEST(Scheduler, SynchronousModeGrantsOneStepAtATime) {
  Scheduler s(opts(2, 0, 10));
  auto a = s.grant("a", 5, 0);
  ASSERT_EQ(a.size(), 2u) << "the window is one step of 2 groups";
  EXPECT_EQ(s.capacity(), 0);
  EXPECT_TRUE(s.grant("b", 5, 0).empty());
  for (const auto& u : a) {
    EXPECT_EQ(u.min_version, 0);
    GrantedUnit got;
    EXPECT_EQ(s.receive("a", u.unit_id, true, 0, 0, &got), Scheduler::Outcome::kAccepted);
    EXPECT_EQ(got.prompt_index, u.prompt_index);
  }
  EXPECT_EQ(s.capacity(), 0) << "buffered groups hold the window until trained";
  for (const auto& u : a) EXPECT_TRUE(s.take_for_training(u, 0, 0));
  EXPECT_EQ(s.capacity(), 0) << "and while the step trains on them";
  EXPECT_TRUE(s.grant("a", 5, 0).empty()) << "nothing is generated with the old weights meanwhile";
  s.step_done();
  auto next = s.grant("a", 5, 1);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].min_version, 1) << "the next step's groups need the next weights";
  EXPECT_TRUE(s.balanced()) << s.describe_accounting();
}

TEST(Scheduler, StaleResultsAreDroppedAndTheirPromptsComeBackFirst) {
  Scheduler s(opts(1, 1, 10));
  auto a = s.grant("a", 2, 0);
  ASSERT_EQ(a.size(), 2u) << "(staleness + 1) x groups";
  // The learner reached version 2 before a[0] came back: 2 - 0 > 1.
  EXPECT_EQ(s.receive("a", a[0].unit_id, true, 0, 2), Scheduler::Outcome::kStale);
  auto again = s.grant("a", 1, 2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].prompt_index, a[0].prompt_index) << "the dropped prompt is generated again";
  EXPECT_EQ(again[0].min_version, 2);
  // Accepted at version 1 (1 - 0 <= 1) but trained only at version 2: dropped then.
  GrantedUnit got;
  EXPECT_EQ(s.receive("a", a[1].unit_id, true, 0, 1, &got), Scheduler::Outcome::kAccepted);
  EXPECT_FALSE(s.take_for_training(got, 0, 2));
  EXPECT_EQ(s.counters().dropped_stale, 2);
  EXPECT_TRUE(s.balanced()) << s.describe_accounting();
  // Results older than the unit's min_version, invalid records, unknown ids and other actors.
  auto b = s.grant("b", 1, 2);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(s.receive("a", b[0].unit_id, true, 2, 2), Scheduler::Outcome::kWrongActor);
  EXPECT_EQ(s.receive("b", b[0].unit_id, true, 1, 2), Scheduler::Outcome::kInvalid) << "older than min_version";
  EXPECT_EQ(s.receive("b", b[0].unit_id, true, 2, 2), Scheduler::Outcome::kUnknown) << "already settled";
  EXPECT_EQ(s.receive("b", 999, true, 2, 2), Scheduler::Outcome::kUnknown);
  EXPECT_TRUE(s.balanced()) << s.describe_accounting();
}

TEST(Scheduler, EveryPromptOfAnEpochIsTrainedExactlyOnceDespiteFailures) {
  const int64_t prompts = 40;
  Scheduler s(opts(3, 2, prompts, /*epochs=*/1));
  std::mt19937 rng(5);
  std::multiset<int64_t> trained;
  int64_t version = 0;
  std::vector<std::pair<GrantedUnit, int64_t>> buffer;  // (unit, oldest version)
  std::map<std::string, std::vector<GrantedUnit>> held;
  for (int round = 0; round < 2000 && !(s.exhausted() && s.in_flight_count() == 0 && s.buffered() == 0); ++round) {
    const std::string actor = rng() % 2 ? "a" : "b";
    for (const auto& u : s.grant(actor, 1 + rng() % 3, version)) held[actor].push_back(u);
    for (auto& [name, units] : held) {
      while (!units.empty() && rng() % 3 != 0) {
        GrantedUnit u = units.back();
        units.pop_back();
        const int what = static_cast<int>(rng() % 10);
        if (what == 0) {
          s.fail(name, u.unit_id, /*retry=*/true);
        } else if (what == 1) {
          s.receive(name, u.unit_id, /*valid=*/false, version, version);
        } else {
          GrantedUnit got;
          if (s.receive(name, u.unit_id, true, u.min_version, version, &got) == Scheduler::Outcome::kAccepted) {
            buffer.emplace_back(got, u.min_version);
          }
        }
      }
      if (rng() % 25 == 0) {
        s.lose_actor(name);  // the actor died with what it held
        units.clear();
      }
    }
    if (static_cast<int64_t>(buffer.size()) >= 3 || (s.exhausted() && s.in_flight_count() == 0 && !buffer.empty())) {
      for (const auto& [u, oldest] : buffer) {
        if (s.take_for_training(u, oldest, version)) trained.insert(u.prompt_index);
      }
      buffer.clear();
      ++version;
      s.step_done();
    }
    ASSERT_TRUE(s.balanced()) << s.describe_accounting();
  }
  ASSERT_TRUE(s.exhausted());
  EXPECT_EQ(trained.size(), static_cast<size_t>(prompts));
  for (int64_t p = 0; p < prompts; ++p) EXPECT_EQ(trained.count(p), 1u) << "prompt " << p;
  EXPECT_TRUE(s.grant("a", 5, version).empty()) << "the epochs are used up";
}

TEST(Scheduler, StateRestoresTheCursorAndRegeneratesUnitsInFlight) {
  Scheduler a(opts(2, 1, 10));
  auto first = a.grant("x", 3, 0);
  a.receive("x", first[0].unit_id, true, 0, 0);
  const auto saved = a.state();
  Scheduler b(opts(2, 1, 10));
  b.restore(saved);
  b.restore_buffered(1);
  auto again = b.grant("y", 3, 0);
  ASSERT_EQ(again.size(), 3u);
  // The two units in flight at the checkpoint come first, then the cursor continues.
  std::set<int64_t> regenerated = {again[0].prompt_index, again[1].prompt_index};
  EXPECT_EQ(regenerated, (std::set<int64_t>{first[1].prompt_index, first[2].prompt_index}));
  auto cont = a.grant("x", 1, 0);  // (capacity is 4 - 1 - 2 = 1 in the original)
  ASSERT_EQ(cont.size(), 1u);
  EXPECT_EQ(again[2].prompt_index, cont[0].prompt_index);
  EXPECT_GT(again[0].unit_id, first[2].unit_id) << "unit ids are never reused";
  EXPECT_TRUE(b.balanced()) << b.describe_accounting();
  EXPECT_THROW(b.restore(nlohmann::json{{"epoch", "x"}}), rlvr::Error);
}

TEST(Scheduler, GroupSeedsDependOnlyOnPromptAndEpoch) {
  EXPECT_EQ(group_seed(1, 5, 0), group_seed(1, 5, 0));
  EXPECT_NE(group_seed(1, 5, 0), group_seed(1, 5, 1));
  EXPECT_NE(group_seed(1, 5, 0), group_seed(1, 6, 0));
  EXPECT_NE(group_seed(1, 5, 0), group_seed(2, 5, 0));
}

}  // namespace
}  // namespace rlvr::learner
