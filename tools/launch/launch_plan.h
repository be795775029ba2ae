// The children `rlvr launch` runs for a config: on one machine, the learner rank(s) (the first
// one the primary) and actors.count actors; across hosts (--hosts, or Slurm's environment), the
// first host runs the learner rank(s) and every other host actors.count actors connecting to it.
// With the documented default split of the cores (docs/LAUNCH.md). Pure functions over the config,
// the host list and the environment, so the exact command lines and environments are unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "tools/launch/supervisor.h"

namespace rlvr::tools {

// ---------------------------------------------------------------------------------------------
// Threads

// Intra-op threads of each learner rank and of each actor process.
struct ThreadSplit {
  int64_t learner = 1;
  int64_t actor = 1;
};

// The split of `cores` on one host running `ranks` learner ranks and `actors` actors
// (docs/LAUNCH.md). Both roles: the learner ranks share N = max(1, C / 2), each rank
// max(1, N / ranks); each actor gets M = max(1, (C - ranks * rank share) / A). Only learner
// ranks (actors == 0): each max(1, C / ranks). Only actors (ranks == 0): each max(1, C / A).
// A non-zero `learner_threads` (per rank) / `actor_threads` (the config's learner.threads /
// actors.threads) wins over its default, and explicit rank threads are what the actors' share is
// computed from. The share of an absent role is reported as 0.
// REQUIRES: cores >= 1, ranks >= 0, actors >= 0, ranks + actors >= 1, both thread counts >= 0.
ThreadSplit split_threads(int64_t cores, int64_t ranks, int64_t actors, int64_t learner_threads,
                          int64_t actor_threads);

// The cores this process may run on (its CPU affinity mask, which containers and taskset narrow),
// or std::thread::hardware_concurrency() when the mask cannot be read; at least 1.
int64_t usable_cores();

// ---------------------------------------------------------------------------------------------
// Hosts

// The host names of a Slurm hostlist expression (the syntax of SLURM_NODELIST), in the order
// `scontrol show hostnames` prints them. Entries are separated by commas (or spaces, tabs,
// newlines); in an entry, "[...]" holds comma-separated numbers and lo-hi ranges, each number
// written with at least as many digits as the low end is written with ("n[08-10]": n08 n09 n10;
// "n[8-10]": n8 n9 n10); text may follow a bracket ("r[1-2]-ib": r1-ib r2-ib, as Slurm 23.02 and
// later read it); an entry with several brackets expands to every combination in Slurm's order:
// the last bracket varies fastest, then the first, the second, ... ("a[1-2]b[3-4]c[5-6]": a1b3c5
// a1b3c6 a2b3c5 a2b3c6 a1b4c5 ...). Duplicates are kept. Throws rlvr::Error naming `what` (the
// flag or variable) for an unbalanced or nested bracket, an empty or non-numeric range item,
// lo > hi, a "{...}" controller function, or more than kMaxHosts hosts.
std::vector<std::string> expand_hostlist(const std::string& expression, const std::string& what);
inline constexpr size_t kMaxHosts = 65536;

// What a launcher runs on its host.
enum class HostRole {
  kAll,      // one machine: the learner rank(s) and actors.count actors
  kLearner,  // the first host of several (or --learner-only): the learner rank(s) only
  kActors,   // any other host: actors.count actors, connecting to the first host's learner
};

// Where this launcher sits among the run's hosts.
struct Placement {
  HostRole role = HostRole::kAll;
  std::vector<std::string> hosts;  // the run's hosts, hosts[0] the learner's; empty: no host list
  size_t index = 0;                // this launcher's host in `hosts`
  std::string source;              // how the placement was decided, for the log line
};

// From `--hosts LIST` (a hostlist expression, plain names or Slurm brackets) and `--host-index I`,
// or without an index, the one entry that names this machine: equal to `hostname`, or equal up to
// the first '.' of either (node01 matches node01.cluster and back). One host: HostRole::kAll.
// Throws rlvr::Error naming the flag for an empty or malformed list, an index out of range, or a
// hostname that matches no entry or several.
Placement placement_from_hosts(const std::string& hosts, std::optional<int64_t> host_index,
                               const std::string& hostname);

// From Slurm's environment (`env`: variable -> value) in a job step that runs one launcher per
// node (srun --ntasks-per-node=1): the hosts of SLURM_STEP_NODELIST (else SLURM_NODELIST), this
// host SLURM_PROCID. Checks, each an rlvr::Error naming the variable: the node list is set and
// parses; SLURM_PROCID is set and a host index; SLURM_STEP_NUM_TASKS (else SLURM_NTASKS), when
// set, equals the number of hosts; SLURM_LOCALID, when set, is 0; SLURMD_NODENAME, when set, is
// the host SLURM_PROCID picks (block distribution, one task per node).
Placement placement_from_slurm(const std::map<std::string, std::string>& env);

// ---------------------------------------------------------------------------------------------
// The plan

// The data-parallel learner's size and rendezvous (the config's learner.world_size,
// learner.master_addr, learner.master_port; learner/distributed.h).
struct LearnerRanks {
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";  // used without a host list; with one, hosts[0]
  int64_t master_port = 29500;
};

struct LaunchPlan {
  std::vector<ChildSpec> children;
  size_t primary = 0;        // learner rank 0; kNoPrimary on an actors-only host
  ThreadSplit threads;
  std::string description;   // one line for the launcher's log
};

// The children for `config` (loaded from `config_path` with `overrides`) on the host `placement`
// describes, with W = ranks.world_size and A = actors.count:
//   learner rank r (roles kAll, kLearner), named "learner" when W is 1, else "learner-<r>":
//     {exe, "learner", "--config", config_path, each override as "--set" X, "--set", "learner.threads=N"};
//     environment MASTER_ADDR (hosts[0] with a host list, else ranks.master_addr), MASTER_PORT, RANK=r,
//     WORLD_SIZE=W, LOCAL_RANK=r, LOCAL_WORLD_SIZE=W (every rank runs on this host).
//     Rank 0 is the primary, never restarted; another rank that fails stops the run (restart with
//     max_restarts 0), one that exits 0 has finished.
//   actor-<id> (roles kAll, kActors): {exe, "actor", "--config", config_path, "--id", id,
//     [on kActors: "--learner", "tcp://<hosts[0]>:<port of learner.endpoint>"], each override as
//     "--set" X, "--set", "actors.threads=M"}; id = i on one machine, (index - 1) * A + i on host
//     `index` of several, so ids never collide across hosts. Restarted at most actors.restart_max
//     times, first after actors.restart_backoff_ms; on kActors an exit with status 0 (the
//     learner's SHUTDOWN) is the end of its work, and the host has no primary.
// Every child's environment gets OMP_NUM_THREADS = its thread count; N and M from split_threads
// with `cores` (usable_cores()). With a host list of several hosts, learner.endpoint must be
// tcp://ADDRESS:PORT with a numeric port and, unless hosts[0] is itself a loopback address,
// bind more than loopback: else rlvr::Error naming learner.endpoint.
LaunchPlan plan_launch(const core::Config& config, const LearnerRanks& ranks, const Placement& placement,
                       const std::string& exe, const std::string& config_path,
                       const std::vector<std::string>& overrides, int64_t cores);

// The endpoint actors on other hosts connect to: tcp://<learner_host>:<port of `learner_endpoint`>
// ([host] for an IPv6 address). Throws rlvr::Error naming learner.endpoint when it is not
// tcp://ADDRESS:PORT with a port in 1..65535.
std::string remote_learner_endpoint(const std::string& learner_endpoint, const std::string& learner_host);

// One line for the end of a launch: how each child ended and how often it started, e.g.
// "learner exited with status 0 (1 start); actor-0 killed by signal 15 (3 starts, 2 restarts)".
std::string launch_summary(const std::vector<ChildReport>& reports);

}  // namespace rlvr::tools
