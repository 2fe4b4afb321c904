#!/usr/bin/env python3
"""Lint the IAM documents in a directory with parliament, applying the
exceptions file (each with its reason). Exit 1 on any finding no exception
matches, or on an exception that matches nothing (a stale exception hides
nothing and must go).

parliament's own ignore_locations cannot be used: in 1.6.4 it drops values
read from a YAML config file (misc.make_list expects its JSON parser's nodes).

usage: iam_lint.py DIR EXCEPTIONS.yaml
"""
import pathlib
import re
import sys

import yaml
from parliament import analyze_policy_string, config, enhance_finding


def main(directory, exceptions_path):
    exceptions = yaml.safe_load(pathlib.Path(exceptions_path).read_text()) or []
    for e in exceptions:
        if not e.get("reason"):
            print(f"{exceptions_path}: exception {e} has no reason", file=sys.stderr)
            return 1
    used = [0] * len(exceptions)
    files = sorted(pathlib.Path(directory).glob("*.json"))
    if not files:
        print(f"no documents in {directory}: run make iam-policies", file=sys.stderr)
        return 1
    failed = 0
    for path in files:
        policy = analyze_policy_string(path.read_text(), str(path), config=config)
        for finding in policy.findings:
            finding = enhance_finding(finding)
            detail = str(finding.detail)
            for i, e in enumerate(exceptions):
                if (re.fullmatch(e["issue"], finding.issue)
                        and re.fullmatch(e["file"], path.name)
                        and ("detail" not in e or re.fullmatch(e["detail"], detail))):
                    used[i] += 1
                    break
            else:
                failed += 1
                print(f"{path}:{finding.location.get('line', '?')}: {finding.severity} {finding.issue}: {finding.title}: {detail}")
    for i, e in enumerate(exceptions):
        if not used[i]:
            failed += 1
            print(f"{exceptions_path}: stale exception (matches nothing): {e['issue']} {e['file']}")
    print(f"iam-lint: {len(files)} documents, {sum(used)} findings excepted, {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
