#!/usr/bin/env python3
"""An example external verifier for rlvr: normalized exact match, speaking JSON lines.

rlvr starts this program once (or `num_processes` times) and keeps it running. Each request is
one JSON line on stdin:
    {"id": 7, "prompt": "...", "response": "...", "ground_truth": "..."}
and each reply is one JSON line on stdout, in order:
    {"id": 7, "score": 1.0, "reason": "exact match"}

Scoring: the answer is the text inside the last <answer>...</answer> pair when there is one,
otherwise the last non-empty line of the response; "<think>...</think>" is dropped first. Answer
and ground truth are normalized as SQuAD does (lowercase, no punctuation, no articles a/an/the,
single spaces) and compared. A ground truth that is a JSON list of strings accepts any of them.

Use it in a config:
    verifiers:
      external:
        - name: exact_match
          command: [python3, verifiers/examples/exact_match_verifier.py]
          timeout_ms: 2000
          num_processes: 2
and give data rows "dataset": "exact_match". Only the Python 3 standard library is used.
"""
import json
import re
import string
import sys

_PUNCT = set(string.punctuation)


def normalize(text):
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def extract_answer(response):
    if "</think>" in response:
        response = response.split("</think>")[-1]
    start = response.rfind("<answer>")
    if start >= 0:
        end = response.find("</answer>", start)
        if end >= 0:
            return response[start + len("<answer>"):end]
    lines = [line for line in response.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def acceptable(ground_truth):
    if isinstance(ground_truth, list):
        return [str(g) for g in ground_truth]
    if isinstance(ground_truth, str) and ground_truth.lstrip().startswith('["'):
        try:
            parsed = json.loads(ground_truth)
            if isinstance(parsed, list):
                return [str(g) for g in parsed]
        except ValueError:
            pass
    return [str(ground_truth)]


def score(request):
    answer = normalize(extract_answer(str(request.get("response", ""))))
    if not answer:
        return 0.0, "no answer"
    for truth in acceptable(request.get("ground_truth", "")):
        if answer == normalize(truth):
            return 1.0, "exact match"
    return 0.0, "mismatch: got '%s'" % answer[:60]


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            value, reason = score(request)
            reply = {"id": request.get("id"), "score": value, "reason": reason}
        except Exception as exc:  # never die on one bad request
            reply = {"id": None, "score": 0.0, "reason": "bad request: %s" % exc}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
