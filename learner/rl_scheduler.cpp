// The actor-learner work scheduler (see rl_scheduler.h).
#include "learner/rl_scheduler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"

namespace rlvr::learner {

uint64_t group_seed(uint64_t run_seed, int64_t prompt_index, int64_t epoch) {
  // SplitMix64 over the three coordinates.
  uint64_t x = run_seed * 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(prompt_index) + 0x632BE59BD9B4E019ULL) ^
               (static_cast<uint64_t>(epoch) << 40);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  RLVR_CHECK(options_.groups_per_step >= 1, "scheduler: groups_per_step {} must be >= 1", options_.groups_per_step);
  RLVR_CHECK(options_.max_staleness >= 0, "scheduler: max_staleness {} must be >= 0", options_.max_staleness);
  RLVR_CHECK(options_.num_prompts >= 1, "scheduler: the prompt set is empty");
}

std::optional<Scheduler::Prompt> Scheduler::next_prompt() {
  if (!returned_.empty()) {
    Prompt p = returned_.front();
    returned_.pop_front();
    return p;
  }
  if (offset_ >= static_cast<int64_t>(order_.size())) {
    if (!order_.empty()) {
      // The epoch is used up: start the next one, unless that was the last.
      if (options_.prompt_epochs > 0 && epoch_ + 1 >= options_.prompt_epochs) return std::nullopt;
      ++epoch_;
      offset_ = 0;
    }
    order_.resize(static_cast<size_t>(options_.num_prompts));
    std::iota(order_.begin(), order_.end(), 0);
    std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<uint64_t>(epoch_));
    std::shuffle(order_.begin(), order_.end(), rng);
  }
  return Prompt{order_[static_cast<size_t>(offset_++)], epoch_};
}

int64_t Scheduler::capacity() const {
  const int64_t window = (options_.max_staleness + 1) * options_.groups_per_step;
  return std::max<int64_t>(0, window - buffered_ - in_flight_count() - training_);
}

std::vector<GrantedUnit> Scheduler::grant(const std::string& actor, int64_t want, int64_t version) {
  std::vector<GrantedUnit> out;
  const int64_t n = std::min(want, capacity());
  for (int64_t i = 0; i < n; ++i) {
    auto p = next_prompt();
    if (!p) break;
    GrantedUnit u;
    u.unit_id = next_unit_++;
    u.prompt_index = p->index;
    u.epoch = p->epoch;
    u.min_version = version;
    u.seed = group_seed(options_.seed, p->index, p->epoch);
    u.actor = actor;
    in_flight_[u.unit_id] = u;
    ++counters_.granted;
    out.push_back(u);
  }
  return out;
}

void Scheduler::give_back(const GrantedUnit& u) { returned_.push_front(Prompt{u.prompt_index, u.epoch}); }

Scheduler::Outcome Scheduler::receive(const std::string& actor, uint64_t unit_id, bool valid, int64_t oldest_version,
                                      int64_t version, GrantedUnit* unit) {
  auto it = in_flight_.find(unit_id);
  if (it == in_flight_.end()) return Outcome::kUnknown;
  if (it->second.actor != actor) return Outcome::kWrongActor;
  const GrantedUnit u = it->second;
  in_flight_.erase(it);
  ++counters_.received;
  if (!valid || oldest_version < u.min_version) {
    ++counters_.dropped_invalid;
    give_back(u);
    return Outcome::kInvalid;
  }
  if (version - oldest_version > options_.max_staleness) {
    ++counters_.dropped_stale;
    give_back(u);
    return Outcome::kStale;
  }
  ++buffered_;
  if (unit) *unit = u;
  return Outcome::kAccepted;
}

bool Scheduler::fail(const std::string& actor, uint64_t unit_id, bool retry) {
  auto it = in_flight_.find(unit_id);
  if (it == in_flight_.end() || it->second.actor != actor) return false;
  const GrantedUnit u = it->second;
  in_flight_.erase(it);
  ++counters_.failed;
  if (retry) {
    give_back(u);
  } else {
    ++counters_.skipped;
  }
  return true;
}

int64_t Scheduler::lose_actor(const std::string& actor) {
  int64_t n = 0;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.actor == actor) {
      give_back(it->second);
      ++counters_.lost;
      ++n;
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  return n;
}

bool Scheduler::take_for_training(const GrantedUnit& unit, int64_t oldest_version, int64_t version) {
  RLVR_ASSERT(buffered_ > 0);
  --buffered_;
  if (version - oldest_version > options_.max_staleness) {
    ++counters_.dropped_stale;
    give_back(unit);  // regenerated with newer weights
    return false;
  }
  ++counters_.trained;
  ++training_;
  return true;
}

std::optional<GrantedUnit> Scheduler::in_flight(uint64_t unit_id) const {
  auto it = in_flight_.find(unit_id);
  if (it == in_flight_.end()) return std::nullopt;
  return it->second;
}

bool Scheduler::exhausted() const {
  if (options_.prompt_epochs == 0 || !returned_.empty()) return false;
  if (epoch_ < options_.prompt_epochs - 1) return false;
  return !order_.empty() && offset_ >= static_cast<int64_t>(order_.size());
}

bool Scheduler::balanced() const {
  const auto& c = counters_;
  return c.granted == c.received + c.lost + c.failed + in_flight_count() &&
         c.received == c.trained + c.dropped_stale + c.dropped_invalid + buffered_;
}

std::string Scheduler::describe_accounting() const {
  const auto& c = counters_;
  return fmt::format(
      "units granted {} = received {} + lost with their actor {} + failed {} + in flight {}; received {} = trained {} "
      "+ dropped stale {} + dropped invalid {} + buffered {}{}",
      c.granted, c.received, c.lost, c.failed, in_flight_count(), c.received, c.trained, c.dropped_stale,
      c.dropped_invalid, buffered_, balanced() ? "" : "  ** DOES NOT BALANCE **");
}

nlohmann::json Scheduler::state() const {
  nlohmann::json returned = nlohmann::json::array();
  // Units in flight are regenerated after a restart: they go first.
  for (const auto& [id, u] : in_flight_) returned.push_back({u.prompt_index, u.epoch});
  for (const auto& p : returned_) returned.push_back({p.index, p.epoch});
  const auto& c = counters_;
  return {{"epoch", epoch_},
          {"offset", offset_},
          {"order_size", order_.size()},
          {"returned", returned},
          {"next_unit", next_unit_},
          {"counters",
           {{"granted", c.granted - in_flight_count()},  // in-flight units count as never granted
            {"received", c.received},
            {"trained", c.trained},
            {"dropped_stale", c.dropped_stale},
            {"dropped_invalid", c.dropped_invalid},
            {"lost", c.lost},
            {"failed", c.failed},
            {"skipped", c.skipped}}}};
}

void Scheduler::restore(const nlohmann::json& s) {
  try {
    epoch_ = s.at("epoch").get<int64_t>();
    offset_ = s.at("offset").get<int64_t>();
    const int64_t order_size = s.at("order_size").get<int64_t>();
    order_.clear();
    if (order_size > 0) {
      RLVR_CHECK(order_size == options_.num_prompts, "scheduler state: {} prompts, the data set has {}", order_size,
                 options_.num_prompts);
      order_.resize(static_cast<size_t>(order_size));
      std::iota(order_.begin(), order_.end(), 0);
      std::mt19937_64 rng(options_.seed * 1000003ULL + static_cast<uint64_t>(epoch_));
      std::shuffle(order_.begin(), order_.end(), rng);
    }
    returned_.clear();
    for (const auto& p : s.at("returned")) returned_.push_back(Prompt{p.at(0).get<int64_t>(), p.at(1).get<int64_t>()});
    next_unit_ = s.at("next_unit").get<uint64_t>();
    const auto& c = s.at("counters");
    counters_.granted = c.at("granted").get<int64_t>();
    counters_.received = c.at("received").get<int64_t>();
    counters_.trained = c.at("trained").get<int64_t>();
    counters_.dropped_stale = c.at("dropped_stale").get<int64_t>();
    counters_.dropped_invalid = c.at("dropped_invalid").get<int64_t>();
    counters_.lost = c.at("lost").get<int64_t>();
    counters_.failed = c.at("failed").get<int64_t>();
    counters_.skipped = c.at("skipped").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("scheduler state: malformed: {}", e.what()));
  }
  in_flight_.clear();
  buffered_ = 0;
}

}  // namespace rlvr::learner
