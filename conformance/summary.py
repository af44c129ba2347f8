#!/usr/bin/env python3
"""Summarises e2e JUnit reports (the junit_01.xml e2e.test writes into --report-dir: spec names
without ginkgo's appended label list) as a Markdown table of passed/failed/skipped per area, plus the failing
tests with their first error line.

  summary.py [--expect LIST] [--names-out FILE] JUNIT.xml...

Specs the focus/skip filters left out (ginkgo reports them as "skipped" with no reason) are not
counted; "skipped" means skipped at run time (e.g. e2eskipper: provider or feature missing).
--expect LIST: exit 1 unless every test named in LIST (one full name a line, '#' comments) passed.
--names-out FILE: write the names of the passed tests, sorted (input for expected-pass.txt).
"""

import argparse
import re
import sys
import xml.etree.ElementTree as ET

AREAS = {
    "sig-api-machinery": "apimachinery",
    "sig-apps": "apps",
    "sig-node": "node",
    "sig-network": "network",
    "sig-storage": "storage",
    "sig-auth": "auth",
    "sig-cli": "cli",
    "sig-scheduling": "scheduling",
    "sig-instrumentation": "instrumentation",
    "sig-architecture": "architecture",
}


def clean_name(name):
    """The spec's full text (the conformance.yaml codename): drop the leaf-type prefix ("[It] ")."""
    return re.sub(r"^\[It\] ", "", name)


def area_of(name):
    m = re.match(r"^\[(sig-[a-z-]+)\]", name)
    if m:
        return AREAS.get(m.group(1), m.group(1))
    return "suite" if not name.startswith("[") or "Suite" in name else "other"


def first_line(text):
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return ""


def load(paths):
    results = {}
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            sys.exit(f"summary: cannot read {path}: {e}")
        for case in root.iter("testcase"):
            raw = case.get("name", "")
            name = clean_name(raw)
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            skipped = case.find("skipped")
            if failure is not None:
                msg = failure.get("message") or failure.text or ""
                state, detail = "failed", first_line(msg)
            elif skipped is not None:
                msg = skipped.get("message", "")
                if msg == "skipped" or msg == "":
                    continue  # not selected by focus/skip
                if msg == "pending":
                    continue
                state, detail = "skipped", first_line(msg.removeprefix("skipped - "))
            else:
                state, detail = "passed", ""
            if raw.startswith("[") and not raw.startswith("[It]") and state == "passed":
                continue  # suite setup/teardown nodes that passed are not tests
            results[name] = (state, detail)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expect")
    p.add_argument("--names-out")
    p.add_argument("junit", nargs="+")
    args = p.parse_args()
    results = load(args.junit)

    table = {}
    for name, (state, _) in results.items():
        row = table.setdefault(area_of(name), {"passed": 0, "failed": 0, "skipped": 0})
        row[state] += 1
    total = {s: sum(r[s] for r in table.values()) for s in ("passed", "failed", "skipped")}
    print("| area | passed | failed | skipped | total |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for area in sorted(table):
        r = table[area]
        print(f"| {area} | {r['passed']} | {r['failed']} | {r['skipped']} | {sum(r.values())} |")
    print(f"| **total** | **{total['passed']}** | **{total['failed']}** | **{total['skipped']}** | "
          f"**{sum(total.values())}** |")

    failed = sorted((n, d) for n, (s, d) in results.items() if s == "failed")
    if failed:
        print(f"\nFailed ({len(failed)}):\n")
        for name, detail in failed:
            print(f"- {name}\n  - `{detail}`" if detail else f"- {name}")

    if args.names_out:
        with open(args.names_out, "w") as f:
            for name in sorted(n for n, (s, _) in results.items() if s == "passed"):
                f.write(name + "\n")

    if args.expect:
        with open(args.expect) as f:
            wanted = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]
        bad = [(n, results.get(n, ("not run", ""))) for n in wanted if results.get(n, ("",))[0] != "passed"]
        if bad:
            print(f"\nRatchet: {len(bad)} of {len(wanted)} expected-pass tests did not pass:")
            for name, (state, detail) in bad:
                print(f"- [{state}] {name}" + (f"\n  - `{detail}`" if detail else ""))
            return 1
        print(f"\nRatchet: all {len(wanted)} expected-pass tests passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
