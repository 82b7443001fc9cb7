#!/usr/bin/env python3
"""Compare two testssl.sh JSON files (ours, Postfix's) finding by finding.

    testssl_diff.py EXPECTED SET MODE OURS.json POSTFIX.json

A finding is its id with its severity and text. Each difference must be
listed in EXPECTED ("id  sets  modes  reason", one a line; sets and modes
are comma lists or "*"), else the comparison fails. Findings about the
scan itself (time, the scanner's own engine) are not compared. Prints
"same ID" for each equal finding, "expected ID: reason" for listed
differences and "DIFFERENT ID: ours ... / Postfix ..." for the others;
exit status 1 when there is any of the last kind, or a listed difference
that did not occur (the list must stay true).
"""
import json
import sys

# About the scan, not the server.
SCAN = {"scanTime", "scanProblem", "engine_problem", "optimal_proto",
        "pre_128cipher", "clientsimulation"}


def load(path):
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("scanResult", data.get("findings", []))
    out = {}
    for x in data:
        i = x.get("id")
        if i is None or i in SCAN or i.startswith("clientsimulation"):
            continue
        out[i] = (x.get("severity", ""), x.get("finding", ""))
    return out


def expected(path, want_set, want_mode):
    exp = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            ident, sets, modes, reason = line.split(None, 3)
            if sets != "*" and want_set not in sets.split(","):
                continue
            if modes != "*" and want_mode not in modes.split(","):
                continue
            exp[ident] = reason
    return exp


def main():
    exp_path, set_name, mode, ours_path, theirs_path = sys.argv[1:6]
    exp = expected(exp_path, set_name, mode)
    ours, theirs = load(ours_path), load(theirs_path)
    bad = 0
    seen = set()
    for i in sorted(set(ours) | set(theirs)):
        a, b = ours.get(i), theirs.get(i)
        if a == b:
            print("same %s: %s" % (i, a[1] if a else ""))
            continue
        if i in exp:
            seen.add(i)
            print("expected %s: %s (ours %r / Postfix %r)" % (i, exp[i], a, b))
            continue
        bad += 1
        print("DIFFERENT %s: ours %r / Postfix %r" % (i, a, b))
    for i in sorted(set(exp) - seen):
        bad += 1
        print("LISTED BUT THE SAME %s: %s (remove it from the list)" % (i, exp[i]))
    if not ours or not theirs:
        print("DIFFERENT: a scan has no findings")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
