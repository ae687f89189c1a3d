#!/usr/bin/env python3
"""Summarize an Autobahn|Testsuite fuzzingclient report.

Usage: summarize.py [-v] [path/to/index.json]

Prints, per agent, how many cases got each behavior (OK, NON-STRICT,
INFORMATIONAL, UNIMPLEMENTED, FAILED) and the same for the closing behavior,
then lists every FAILED and NON-STRICT case with its description and
Autobahn's verdict (read from the per-case JSON next to index.json, when it is
there). With -v also the expected vs received frames.

Exit status: 1 when any case in sections 1-11 has behavior or behaviorClose
FAILED, 2 when the report cannot be read, otherwise 0. (Sections 12 and 13 are
permessage-deflate, which Concord does not implement; they never gate.)
"""
import html
import json
import os
import re
import sys

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
GATED_SECTIONS = set(range(1, 12))


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def plain(text):
    text = re.sub(r"<br\s*/?>", " ", text or "")
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def short(value, limit=300):
    s = json.dumps(value) if not isinstance(value, str) else value
    return s if len(s) <= limit else s[: limit - 4] + " ..."


def load_case(outdir, entry):
    path = os.path.join(outdir, entry.get("reportfile", ""))
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    index_path = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "reports", "clients", "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print("cannot read %s: %s" % (index_path, e), file=sys.stderr)
        return 2
    outdir = os.path.dirname(os.path.abspath(index_path))

    gate_failed = []
    if not index:
        print("no agents in %s" % index_path, file=sys.stderr)
        return 2
    for agent in sorted(index):
        cases = index[agent]
        ids = sorted(cases, key=case_key)
        counts = {b: 0 for b in BEHAVIORS}
        close_counts = {b: 0 for b in BEHAVIORS}
        for cid in ids:
            counts[cases[cid]["behavior"]] = counts.get(cases[cid]["behavior"], 0) + 1
            bc = cases[cid]["behaviorClose"]
            close_counts[bc] = close_counts.get(bc, 0) + 1
        print("Autobahn fuzzingclient results for agent %r: %d cases" % (agent, len(ids)))
        print("  behavior:      " + "  ".join("%s=%d" % (b, n) for b, n in counts.items()))
        print("  behaviorClose: " + "  ".join("%s=%d" % (b, n) for b, n in close_counts.items()))

        for label in ("INFORMATIONAL", "UNIMPLEMENTED"):
            hits = [c for c in ids if cases[c]["behavior"] == label]
            if hits:
                print("  %s: %s" % (label, " ".join(hits)))

        for label in ("FAILED", "NON-STRICT"):
            hits = [c for c in ids
                    if cases[c]["behavior"] == label or cases[c]["behaviorClose"] == label]
            if not hits:
                continue
            print()
            print("%s cases (%d):" % (label, len(hits)))
            for cid in hits:
                e = cases[cid]
                detail = load_case(outdir, e)
                desc = plain(detail.get("description")) if detail else "(per-case report not available)"
                print("  %-9s behavior=%s behaviorClose=%s remoteCloseCode=%s" % (
                    cid, e["behavior"], e["behaviorClose"], e.get("remoteCloseCode")))
                print("            %s" % desc)
                if detail:
                    if detail.get("result"):
                        print("            result:      %s" % plain(detail["result"]))
                    if detail.get("resultClose"):
                        print("            resultClose: %s" % plain(detail["resultClose"]))
                    if verbose:
                        print("            expectation: %s" % plain(detail.get("expectation")))
                        print("            expected:    %s" % short(detail.get("expected")))
                        print("            received:    %s" % short(detail.get("received")))
                        print("            expectedClose: %s" % short(detail.get("expectedClose")))
                if label == "FAILED" and case_key(cid)[0] in GATED_SECTIONS:
                    gate_failed.append(cid)
        print()

    if gate_failed:
        print("FAIL: %d case(s) in sections 1-11 FAILED: %s" % (
            len(gate_failed), " ".join(gate_failed)))
        return 1
    print("PASS: no FAILED case in sections 1-11")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
