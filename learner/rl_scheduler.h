// The learner's work scheduler for the actor-learner system: which prompt each actor generates
// next, the credit window that bounds staleness, and the accounting that proves nothing was lost.
// Pure bookkeeping (no sockets, no tensors); the learner service calls it under one mutex.
//
// Work unit = one prompt group (num_samples_per_prompt samples of one prompt). A learner step
// trains on `groups_per_step` groups. The learner owns the order of the prompts (a permutation
// per epoch from the run seed) and the cursor, so actors never repeat or skip prompts: a unit that
// comes back dropped (stale or invalid), failed (retry) or lost (its actor died) returns its
// prompt to the front of the queue exactly once, and is granted again.
//
// Credit window (AReaL's capacity, ASYNC-LESSONS lesson 1): at most
//   (max_staleness + 1) x groups_per_step - buffered - in_flight - training
// units may be granted now (`training`: groups of the step the learner is taking right now, until
// step_done()), and a unit granted while the learner is at version v must be
// generated with weights of version >= v (its min_version). The bound is enforced exactly when a
// group is trained: a group whose oldest token is more than max_staleness versions behind the
// learner is dropped and its prompt returned. max_staleness 0 is synchronous: one step's groups
// are granted, trained, and only then are the next ones granted (for the next version).
//
// Accounting (units): granted = received + lost + failed + in_flight, and
// received = trained + dropped_stale + dropped_invalid + buffered (checked by balanced()).
// Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlvr::learner {

struct SchedulerOptions {
  int64_t groups_per_step = 1;  // groups a learner step trains on
  int64_t max_staleness = 1;    // versions; 0 = synchronous
  int64_t num_prompts = 0;      // prompts in the data set
  int64_t prompt_epochs = 0;    // passes over the prompts; 0 = unlimited
  uint64_t seed = 1;            // the per-epoch prompt order
};

// A granted unit.
struct GrantedUnit {
  uint64_t unit_id = 0;
  int64_t prompt_index = 0;
  int64_t epoch = 0;
  int64_t min_version = 0;  // the weights it must be generated with are at least this version
  uint64_t seed = 0;        // sampling seed of the group (fixed per (run seed, prompt, epoch))
  std::string actor;
};

struct SchedulerCounters {
  int64_t granted = 0, received = 0, trained = 0, dropped_stale = 0, dropped_invalid = 0, lost = 0, failed = 0,
          skipped = 0;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // Units that may be granted to `actor` now (at most `want`), for learner version `version`.
  std::vector<GrantedUnit> grant(const std::string& actor, int64_t want, int64_t version);
  // How many units the credit window allows now.
  int64_t capacity() const;

  enum class Outcome { kAccepted, kUnknown, kWrongActor, kStale, kInvalid };
  // The result of unit `unit_id` arrived from `actor`. `valid` is the caller's check of the
  // records; `oldest_version` their oldest token version. Accepted results become buffered; a stale
  // or invalid one returns its prompt to the queue; an unknown unit (already reclaimed, or never
  // granted) changes nothing.
  // `unit` (when not null) receives the granted unit of an accepted result (the caller buffers it
  // with the rollouts and hands it to take_for_training()).
  Outcome receive(const std::string& actor, uint64_t unit_id, bool valid, int64_t oldest_version, int64_t version,
                  GrantedUnit* unit = nullptr);
  // The actor gave up on a unit: its prompt returns to the queue (`retry`) or is skipped for good.
  bool fail(const std::string& actor, uint64_t unit_id, bool retry);
  // Every unit in flight at `actor` returns to the queue (the actor died or restarted). Returns how many.
  int64_t lose_actor(const std::string& actor);

  // The trainer takes a buffered unit for a step at version `version`: returns false (and drops it
  // as stale, returning its prompt to the queue) when its oldest token version is older than
  // version - max_staleness; true when it is trained.
  bool take_for_training(const GrantedUnit& unit, int64_t oldest_version, int64_t version);
  // The step that took its groups with take_for_training() finished (the version moved on): they
  // leave the credit window.
  void step_done() { training_ = 0; }

  // The unit a granted id refers to (in flight), if any.
  std::optional<GrantedUnit> in_flight(uint64_t unit_id) const;
  int64_t in_flight_count() const { return static_cast<int64_t>(in_flight_.size()); }
  int64_t buffered() const { return buffered_; }
  // Every prompt of every epoch has been granted and nothing is waiting to be redone.
  bool exhausted() const;
  const SchedulerCounters& counters() const { return counters_; }
  // granted == received + lost + failed + in_flight and received == trained + dropped + buffered.
  bool balanced() const;
  std::string describe_accounting() const;

  // The state a checkpoint keeps: cursor, queue of returned prompts, the ids, counters. Units in
  // flight are saved as returned (their actors' results will be refused after a restart), so a
  // restored scheduler regenerates them. `buffered` units are saved by the caller with their rollouts.
  nlohmann::json state() const;
  // Restores state(); REQUIRES: options equal to the saving run's. Throws rlvr::Error on a malformed state.
  void restore(const nlohmann::json& state);
  // A restored checkpoint's buffered unit (its rollouts were saved with the checkpoint).
  void restore_buffered(int64_t count) { buffered_ = count; }

 private:
  struct Prompt {
    int64_t index = 0, epoch = 0;
  };
  std::optional<Prompt> next_prompt();
  void give_back(const GrantedUnit& u);

  SchedulerOptions options_;
  int64_t epoch_ = 0, offset_ = 0;        // cursor into the epoch's permutation
  std::vector<int64_t> order_;            // the permutation of epoch_
  std::deque<Prompt> returned_;           // prompts to redo, served first
  std::map<uint64_t, GrantedUnit> in_flight_;
  uint64_t next_unit_ = 1;
  int64_t buffered_ = 0;
  int64_t training_ = 0;
  SchedulerCounters counters_;
};

// The sampling seed of a group: a function of (run seed, prompt, epoch) only, so a regenerated
// group draws the same stream whichever actor generates it.
uint64_t group_seed(uint64_t run_seed, int64_t prompt_index, int64_t epoch);

}  // namespace rlvr::learner
