// The launch plan of `rlvr launch`: thread split, host lists (Slurm's hostlist syntax), where this
// launcher sits among the hosts, the learner rank and actor command lines, the summary line.
#include "tools/launch/launch_plan.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/protocol/transport.h"

namespace rlvr::tools {

// ---------------------------------------------------------------------------------------------
// Threads

ThreadSplit split_threads(int64_t cores, int64_t ranks, int64_t actors, int64_t learner_threads,
                          int64_t actor_threads) {
  RLVR_ASSERT(cores >= 1 && ranks >= 0 && actors >= 0 && ranks + actors >= 1 && learner_threads >= 0 &&
              actor_threads >= 0);
  ThreadSplit split{0, 0};
  if (ranks > 0) {
    const int64_t share = actors > 0 ? std::max<int64_t>(1, cores / 2) : cores;
    split.learner = learner_threads > 0 ? learner_threads : std::max<int64_t>(1, share / ranks);
  }
  if (actors > 0) {
    split.actor = actor_threads > 0 ? actor_threads
                                    : std::max<int64_t>(1, (cores - ranks * split.learner) / actors);
  }
  return split;
}

int64_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

// ---------------------------------------------------------------------------------------------
// Slurm's hostlist syntax (SchedMD/slurm: src/common/hostlist.c, _hostlist_create_bracketed and
// _push_range_list, with cluster dimensions 1). Stricter than Slurm on what Slurm never writes
// (stray brackets, spaces or signs inside a bracket): an error here.

namespace {

struct NumberRange {
  uint64_t lo = 0;
  uint64_t hi = 0;
  size_t width = 0;  // digits the low end is written with: every number is zero-padded to it
};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class HostlistParser {
 public:
  HostlistParser(const std::string& expression, const std::string& what) : expression_(expression), what_(what) {}

  std::vector<std::string> expand() {
    RLVR_CHECK(expression_.find('{') == std::string::npos,
               "{} '{}': hostlist functions ({{...}}) are expanded by the Slurm controller, not here; expected "
               "host names and [ranges], e.g. node[01-03],gpu1",
               what_, excerpt(expression_, 200));
    for (const std::string& entry : entries()) expand_entry(entry);
    return std::move(hosts_);
  }

 private:
  [[noreturn]] void fail(const std::string& entry, const std::string& problem) const {
    throw Error(fmt::format("{} '{}': entry '{}': {}; expected host names and [ranges] separated by commas, "
                            "e.g. node[01-03,07],gpu-a[1-2]",
                            what_, excerpt(expression_, 200), excerpt(entry, 100), problem));
  }

  // The entries: split at ',', ' ', '\t', '\n' outside brackets; empty ones dropped.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    std::string cur;
    bool inside = false;
    for (char c : expression_) {
      const bool sep = c == ',' || c == ' ' || c == '\t' || c == '\n';
      if (sep && !inside) {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
        continue;
      }
      if (c == '[') {
        cur.push_back(c);
        if (inside) fail(cur, "a '[' inside brackets");
        inside = true;
        continue;
      }
      if (c == ']') {
        cur.push_back(c);
        if (!inside) fail(cur, "a ']' without its '['");
        inside = false;
        continue;
      }
      cur.push_back(c);
    }
    if (inside) fail(cur, "a '[' without its ']'");
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
  }

  // "1-3,07" inside one bracket.
  std::vector<NumberRange> ranges(const std::string& entry, std::string_view text) const {
    std::vector<NumberRange> out;
    size_t start = 0;
    while (true) {
      size_t comma = text.find(',', start);
      std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      size_t dash = item.find('-');
      std::string_view lo = item.substr(0, dash);
      std::string_view hi = dash == std::string_view::npos ? lo : item.substr(dash + 1);
      if (hi.empty()) hi = lo;  // "1-" is 1, as Slurm reads it
      if (!all_digits(lo) || !all_digits(hi)) {
        fail(entry, fmt::format("range item '{}' is not a number or lo-hi range of numbers", excerpt(item, 40)));
      }
      if (lo.size() > 18 || hi.size() > 18) fail(entry, fmt::format("number in '{}' is too long", excerpt(item, 40)));
      NumberRange r;
      r.lo = std::stoull(std::string(lo));
      r.hi = std::stoull(std::string(hi));
      r.width = lo.size();
      if (r.lo > r.hi) fail(entry, fmt::format("range '{}' runs backwards", item));
      if (r.hi - r.lo >= kMaxHosts) fail(entry, fmt::format("range '{}' has more than {} hosts", item, kMaxHosts));
      out.push_back(r);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return out;
  }

  void add(const std::string& entry, std::string host) {
    if (hosts_.size() >= kMaxHosts) fail(entry, fmt::format("more than {} hosts", kMaxHosts));
    hosts_.push_back(std::move(host));
  }

  static std::string padded(uint64_t n, size_t width) { return fmt::format("{:0{}}", n, width); }

  void expand_entry(const std::string& entry) {
    const size_t open = entry.rfind('[');
    if (open == std::string::npos) {
      add(entry, entry);
      return;
    }
    const size_t close = entry.find(']', open);  // entries() checked the brackets pair up
    std::string prefix = entry.substr(0, open);
    std::string suffix = entry.substr(close + 1);
    std::vector<NumberRange> last = ranges(entry, std::string_view(entry).substr(open + 1, close - open - 1));
    push_range_list(entry, prefix, suffix, last);
  }

  // Slurm's _push_range_list: the prefix's last bracket is the outer loop, the brackets before it
  // are expanded by recursion inside that loop, and the entry's last bracket varies fastest.
  void push_range_list(const std::string& entry, const std::string& prefix, const std::string& suffix,
                       const std::vector<NumberRange>& last) {
    const size_t open = prefix.rfind('[');
    if (open == std::string::npos) {
      for (const NumberRange& r : last) {
        for (uint64_t n = r.lo; n <= r.hi; ++n) add(entry, prefix + padded(n, r.width) + suffix);
      }
      return;
    }
    const size_t close = prefix.find(']', open);
    const std::string head = prefix.substr(0, open);
    const std::string tail = prefix.substr(close + 1);
    for (const NumberRange& r : ranges(entry, std::string_view(prefix).substr(open + 1, close - open - 1))) {
      for (uint64_t n = r.lo; n <= r.hi; ++n) push_range_list(entry, head + padded(n, r.width) + tail, suffix, last);
    }
  }

  const std::string& expression_;
  const std::string& what_;
  std::vector<std::string> hosts_;
};

std::string first_label(const std::string& name) { return name.substr(0, name.find('.')); }

std::string list_of(const std::vector<std::string>& hosts) {
  std::string out;
  for (size_t i = 0; i < hosts.size() && i < 8; ++i) out += (i ? "," : "") + hosts[i];
  if (hosts.size() > 8) out += fmt::format(",... ({} hosts)", hosts.size());
  return out;
}

Placement place(std::vector<std::string> hosts, size_t index, std::string source) {
  Placement p;
  p.role = hosts.size() == 1 ? HostRole::kAll : index == 0 ? HostRole::kLearner : HostRole::kActors;
  p.hosts = std::move(hosts);
  p.index = index;
  p.source = std::move(source);
  return p;
}

}  // namespace

std::vector<std::string> expand_hostlist(const std::string& expression, const std::string& what) {
  return HostlistParser(expression, what).expand();
}

// ---------------------------------------------------------------------------------------------
// Placement

Placement placement_from_hosts(const std::string& hosts_text, std::optional<int64_t> host_index,
                               const std::string& hostname) {
  std::vector<std::string> hosts = expand_hostlist(hosts_text, "--hosts");
  RLVR_CHECK(!hosts.empty(), "--hosts '{}' names no host; expected host names separated by commas, e.g. --hosts "
             "node1,node2 (the first runs the learner)", hosts_text);
  if (host_index) {
    RLVR_CHECK(*host_index >= 0 && static_cast<size_t>(*host_index) < hosts.size(),
               "--host-index {} is out of range: --hosts names {} host(s), so expected 0..{}", *host_index,
               hosts.size(), hosts.size() - 1);
    return place(std::move(hosts), static_cast<size_t>(*host_index), fmt::format("--host-index {}", *host_index));
  }
  std::vector<size_t> matches;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string& h = hosts[i];
    if (h == hostname || h == first_label(hostname) || first_label(h) == hostname) matches.push_back(i);
  }
  RLVR_CHECK(!matches.empty(), "this machine's hostname '{}' is not in --hosts {}; expected one entry naming it, "
             "or --host-index", hostname, list_of(hosts));
  RLVR_CHECK(matches.size() == 1, "this machine's hostname '{}' matches --hosts entries {} and {} ({}); pass "
             "--host-index to say which one this launcher is", hostname, matches[0], matches[1],
             hosts[matches[0]]);
  size_t index = matches[0];
  return place(std::move(hosts), index, fmt::format("hostname {}", hostname));
}

Placement placement_from_slurm(const std::map<std::string, std::string>& env) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  auto number = [&](const char* name, const std::string& value) {
    RLVR_CHECK(all_digits(value) && value.size() <= 9, "--slurm: {} is '{}'; expected a number 0 or more", name,
               excerpt(value, 40));
    return static_cast<size_t>(std::stoul(value));
  };
  const char* list_var = get("SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_NODELIST";
  const std::string* list = get(list_var);
  RLVR_CHECK(list != nullptr, "--slurm: SLURM_NODELIST is not set; run `rlvr launch --slurm` as a Slurm job step, "
             "one per node: srun --ntasks-per-node=1 rlvr launch --slurm ...");
  std::vector<std::string> hosts = expand_hostlist(*list, list_var);
  RLVR_CHECK(!hosts.empty(), "--slurm: {} is empty; expected the job's node names", list_var);
  const std::string* procid = get("SLURM_PROCID");
  RLVR_CHECK(procid != nullptr, "--slurm: SLURM_PROCID is not set; run `rlvr launch --slurm` under srun (one task "
             "per node: srun --ntasks-per-node=1)");
  const size_t index = number("SLURM_PROCID", *procid);
  const char* tasks_var = get("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
  if (const std::string* tasks = get(tasks_var)) {
    const size_t n = number(tasks_var, *tasks);
    RLVR_CHECK(n == hosts.size(), "--slurm: {} is {} but {} names {} host(s); expected one launcher per node "
               "(srun --ntasks-per-node=1): it starts the node's learner or actor processes itself",
               tasks_var, n, list_var, hosts.size());
  }
  RLVR_CHECK(index < hosts.size(), "--slurm: SLURM_PROCID {} is out of range: {} names {} host(s), so expected "
             "0..{}", index, list_var, hosts.size(), hosts.size() - 1);
  if (const std::string* local = get("SLURM_LOCALID")) {
    RLVR_CHECK(number("SLURM_LOCALID", *local) == 0, "--slurm: SLURM_LOCALID is {}: a second launcher on one node; "
               "expected one task per node (srun --ntasks-per-node=1)", *local);
  }
  if (const std::string* node = get("SLURMD_NODENAME")) {
    RLVR_CHECK(*node == hosts[index], "--slurm: SLURM_PROCID {} runs on SLURMD_NODENAME '{}', but host {} of {} is "
               "'{}'; expected tasks placed one per node in node-list order (srun --ntasks-per-node=1 "
               "--distribution=block)", index, *node, index, list_var, hosts[index]);
  }
  return place(std::move(hosts), index, fmt::format("Slurm: SLURM_PROCID {} of {}", index, list_var));
}

// ---------------------------------------------------------------------------------------------
// The plan

std::string remote_learner_endpoint(const std::string& learner_endpoint, const std::string& learner_host) {
  auto bad = [&](const std::string& why) {
    return Error(fmt::format("learner.endpoint '{}' {}; a run across hosts needs tcp://ADDRESS:PORT that the other "
                             "hosts reach, e.g. tcp://0.0.0.0:5555 (docs/LAUNCH.md)",
                             excerpt(learner_endpoint, 200), why));
  };
  const std::string scheme = "tcp://";
  if (learner_endpoint.rfind(scheme, 0) != 0) throw bad("is not a tcp:// endpoint");
  const size_t colon = learner_endpoint.rfind(':');
  const std::string port = colon == std::string::npos ? "" : learner_endpoint.substr(colon + 1);
  if (colon < scheme.size() || !all_digits(port) || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    throw bad("has no port in 1..65535 the actors could connect to");
  }
  const bool ipv6 = learner_host.find(':') != std::string::npos;
  return fmt::format("tcp://{}{}{}:{}", ipv6 ? "[" : "", learner_host, ipv6 ? "]" : "", port);
}

LaunchPlan plan_launch(const core::Config& config, const LearnerRanks& ranks, const Placement& placement,
                       const std::string& exe, const std::string& config_path,
                       const std::vector<std::string>& overrides, int64_t cores) {
  RLVR_CHECK(ranks.world_size >= 1, "learner.world_size is {}; expected 1 or more", ranks.world_size);
  RLVR_CHECK(ranks.master_port >= 1 && ranks.master_port <= 65535,
             "learner.master_port is {}; expected 1..65535", ranks.master_port);
  const bool several_hosts = placement.hosts.size() > 1;
  RLVR_ASSERT(placement.role != HostRole::kActors || (several_hosts && placement.index > 0));
  RLVR_ASSERT(placement.hosts.empty() || placement.index < placement.hosts.size());
  const std::string learner_host = placement.hosts.empty() ? std::string() : placement.hosts[0];
  std::string actor_endpoint;  // --learner of actors on another host
  if (several_hosts) {
    actor_endpoint = remote_learner_endpoint(config.learner.endpoint, learner_host);
    const bool host_is_loopback = core::protocol::is_loopback_endpoint(actor_endpoint);
    RLVR_CHECK(host_is_loopback || !core::protocol::is_loopback_endpoint(config.learner.endpoint),
               "learner.endpoint '{}' binds loopback only, which actors on other hosts cannot reach; expected an "
               "address they reach, e.g. tcp://0.0.0.0:5555, with CURVE keys (docs/SECURITY.md)",
               config.learner.endpoint);
  }

  const bool learners = placement.role != HostRole::kActors;
  const bool actors = placement.role != HostRole::kLearner;
  const int64_t world = ranks.world_size;
  const int64_t count = config.actors.count;
  LaunchPlan plan;
  plan.threads = split_threads(std::max<int64_t>(1, cores), learners ? world : 0, actors ? count : 0,
                               config.learner.threads, config.actors.threads);
  auto with_overrides = [&](std::vector<std::string> argv, const std::string& threads_override) {
    for (const auto& o : overrides) {
      argv.push_back("--set");
      argv.push_back(o);
    }
    argv.push_back("--set");
    argv.push_back(threads_override);
    return argv;
  };

  if (learners) {
    const std::string master_addr = learner_host.empty() ? ranks.master_addr : learner_host;
    for (int64_t r = 0; r < world; ++r) {
      ChildSpec rank;
      rank.name = world == 1 ? "learner" : fmt::format("learner-{}", r);
      rank.argv = with_overrides({exe, "learner", "--config", config_path},
                                 fmt::format("learner.threads={}", plan.threads.learner));
      rank.env = {{"OMP_NUM_THREADS", std::to_string(plan.threads.learner)},
                  {"MASTER_ADDR", master_addr},
                  {"MASTER_PORT", std::to_string(ranks.master_port)},
                  {"RANK", std::to_string(r)},
                  {"WORLD_SIZE", std::to_string(world)},
                  {"LOCAL_RANK", std::to_string(r)},
                  {"LOCAL_WORLD_SIZE", std::to_string(world)}};
      // Rank 0 is the primary. The others hold no state of their own: one that fails leaves rank 0
      // waiting in a collective, so it ends the run; one that exits 0 has finished with rank 0.
      rank.restart = r > 0;
      rank.max_restarts = 0;
      rank.finished_on_success = r > 0;
      plan.children.push_back(std::move(rank));
    }
    plan.primary = 0;
  } else {
    plan.primary = kNoPrimary;
  }

  const int64_t first_id = placement.role == HostRole::kActors ? static_cast<int64_t>(placement.index - 1) * count : 0;
  if (actors) {
    for (int64_t i = 0; i < count; ++i) {
      const int64_t id = first_id + i;
      ChildSpec actor;
      actor.name = fmt::format("actor-{}", id);
      std::vector<std::string> argv = {exe, "actor", "--config", config_path, "--id", std::to_string(id)};
      if (placement.role == HostRole::kActors) {
        argv.push_back("--learner");
        argv.push_back(actor_endpoint);
      }
      actor.argv = with_overrides(std::move(argv), fmt::format("actors.threads={}", plan.threads.actor));
      actor.env["OMP_NUM_THREADS"] = std::to_string(plan.threads.actor);
      actor.restart = true;
      actor.max_restarts = config.actors.restart_max;
      actor.backoff = std::chrono::milliseconds(config.actors.restart_backoff_ms);
      actor.finished_on_success = placement.role == HostRole::kActors;
      plan.children.push_back(std::move(actor));
    }
  }

  const std::string learner_part =
      world == 1 ? fmt::format("the learner ({} threads)", plan.threads.learner)
                 : fmt::format("{} learner ranks (MASTER_ADDR {}, MASTER_PORT {}; {} threads each)", world,
                               learner_host.empty() ? ranks.master_addr : learner_host, ranks.master_port,
                               plan.threads.learner);
  const std::string actor_part = fmt::format("{} actor(s), ids {}..{} ({} threads each)", count, first_id,
                                             first_id + count - 1, plan.threads.actor);
  const std::string where =
      placement.hosts.empty()
          ? "this machine"
          : fmt::format("host {} of {} ({}, by {})", placement.index, placement.hosts.size(),
                        placement.hosts[placement.index], placement.source);
  switch (placement.role) {
    case HostRole::kAll:
      plan.description = fmt::format("{}: {} and {}", where, learner_part, actor_part);
      break;
    case HostRole::kLearner:
      plan.description =
          several_hosts
              ? fmt::format("{}: {}; actors on the other {} host(s) connect to {}", where, learner_part,
                            placement.hosts.size() - 1, actor_endpoint)
              : fmt::format("{}: {} only (--learner-only)", where, learner_part);
      break;
    case HostRole::kActors:
      plan.description = fmt::format("{}: {} of the learner at {}", where, actor_part, actor_endpoint);
      break;
  }
  return plan;
}

std::string launch_summary(const std::vector<ChildReport>& reports) {
  std::string out;
  for (const auto& r : reports) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{} {} ({} start{}", r.name, r.last_exit, r.starts, r.starts == 1 ? "" : "s");
    if (r.failed_starts > 0) out += fmt::format(", {} failed", r.failed_starts);
    if (r.restarts > 0) out += fmt::format(", {} restart{}", r.restarts, r.restarts == 1 ? "" : "s");
    out += ")";
  }
  return out;
}

}  // namespace rlvr::tools
