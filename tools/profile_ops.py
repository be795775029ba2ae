#!/usr/bin/python3
"""Self time per operator in a LibTorch profiler trace (bench_sft --profile): where a step goes.

    /usr/bin/python3 tools/profile_ops.py /tmp/prof/small-float32.trace.json [--top 25]

The trace's events nest (aten::linear contains aten::mm); each op's self time is its duration
minus that of the events directly inside it on the same thread, so the column adds up to the
step's time.
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    with open(a.trace) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[e.get("tid")].append(e)
    self_us = collections.Counter()
    calls = collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # open events: [end, name, child time]
        for e in evs:
            while stack and stack[-1][0] <= e["ts"]:
                end, name, child, dur = stack.pop()
                self_us[name] += dur - child
            if stack:
                stack[-1][2] += e["dur"]
            stack.append([e["ts"] + e["dur"], e["name"], 0.0, e["dur"]])
            calls[e["name"]] += 1
        while stack:
            end, name, child, dur = stack.pop()
            self_us[name] += dur - child
    total = sum(self_us.values())
    print(f"{total / 1e3:.1f} ms of op self time in {a.trace}")
    print("| op | self ms | share | calls |\n|---|---|---|---|")
    for name, us in self_us.most_common(a.top):
        print(f"| {name} | {us / 1e3:.1f} | {100 * us / total:.1f}% | {calls[name]} |")


if __name__ == "__main__":
    main()
