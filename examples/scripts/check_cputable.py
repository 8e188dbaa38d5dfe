#!/usr/bin/env python3
"""Validates a CPU table in dpkg's cputable format and picks what runs next.

Run by shell/run with "stdout": "json", for the conditional-pipeline example jobs. Each data
row of the table has five columns: Debian name, GNU name, config.guess regular expression,
pointer size in bits (32 or 64) and endianness (little or big). The script checks every row;
then it prints the task's result as JSON, with childTasks for one of two branches:
  valid:   import (the table as CSV), summarise (counts by size and byte order), publish (SHA-256);
  invalid: quarantine (a copy of the file set aside), report-problems (every problem, one a line).
The tasks write into $TMPDIR/jobgraph-examples/JOB_FOLDER (TMPDIR defaults to /tmp).

Usage: check_cputable.py TABLE JOB_FOLDER
"""

import json
import os
import re
import sys
import tempfile

COLUMNS = ("debian", "gnu", "regex", "bits", "endianness")


def problems_in(lines):
    """(row count, problems) for the table's lines."""
    problems, names, rows = [], set(), 0
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        rows += 1
        fields = line.split()
        if len(fields) != len(COLUMNS):
            problems.append(f"line {number}: {len(fields)} columns, expected {len(COLUMNS)}")
            continue
        debian, _, regex, bits, endianness = fields
        if debian in names:
            problems.append(f"line {number}: {debian} listed twice")
        names.add(debian)
        try:
            re.compile(regex)
        except re.error as error:
            problems.append(f"line {number}: {debian}: bad regular expression {regex!r}: {error}")
        if bits not in ("32", "64"):
            problems.append(f"line {number}: {debian}: bits must be 32 or 64, got {bits}")
        if endianness not in ("little", "big"):
            problems.append(f"line {number}: {debian}: endianness must be little or big, got {endianness}")
    if rows == 0:
        problems.append("no data rows")
    return rows, problems


def shell(task_id, script, depends_on=(), **env):
    task = {"id": task_id, "service": "shell", "command": "run", "input": {"argv": ["sh", "-c", script], "env": env}}
    if depends_on:
        task["dependsOn"] = list(depends_on)
    return task


def valid_branch(table, out):
    to_csv = ("{ echo debian,gnu,bits,endianness; grep -v '^#' \"$TABLE\" | awk 'NF == 5 { print $1 \",\" $2 \",\" $4 \",\" $5 }'; }"
              " > \"$OUT/cputable.csv\" && echo \"cputable.csv: $(($(wc -l < \"$OUT/cputable.csv\") - 1)) CPUs, 4 columns\"")
    summarise = ("awk -F , 'NR > 1 { bits[$3]++; order[$4]++ } END { printf \"%d 64-bit, %d 32-bit; %d little-endian, %d big-endian\\n\","
                 " bits[64], bits[32], order[\"little\"], order[\"big\"] }' \"$OUT/cputable.csv\" | tee \"$OUT/summary.txt\"")
    publish = ("cd \"$OUT\" && sha256sum cputable.csv summary.txt > SHA256SUMS && "
               "echo \"published cputable.csv and summary.txt with their SHA256SUMS\"")
    return [
        shell("import", to_csv, TABLE=table, OUT=out),
        shell("summarise", summarise, ["import"], OUT=out),
        shell("publish", publish, ["import", "summarise"], OUT=out),
    ]


def invalid_branch(table, out, problems):
    quarantine = ("mkdir -p \"$OUT/quarantine\" && cp \"$TABLE\" \"$OUT/quarantine/\" && "
                  "echo \"quarantined the table: $OUT/quarantine/$(basename \"$TABLE\")\"")
    report = ("printf '%s\\n' \"$PROBLEMS\" > \"$OUT/problems.txt\" && "
              "echo \"$(wc -l < \"$OUT/problems.txt\") problems, first: $(head -n 1 \"$OUT/problems.txt\")\"")
    return [
        shell("quarantine", quarantine, TABLE=table, OUT=out),
        shell("report-problems", report, ["quarantine"], OUT=out, PROBLEMS="\n".join(problems)),
    ]


def main():
    if len(sys.argv) != 3:
        print("usage: check_cputable.py TABLE JOB_FOLDER", file=sys.stderr)
        return 2
    table, folder = os.path.abspath(sys.argv[1]), sys.argv[2]
    out = os.path.join(tempfile.gettempdir(), "jobgraph-examples", folder)
    os.makedirs(out, exist_ok=True)
    with open(table, encoding="utf-8") as file:
        rows, problems = problems_in(file.read().splitlines())
    valid = not problems
    result = {
        "output": {"rows": rows, "valid": valid, "problems": problems},
        "childTasks": valid_branch(table, out) if valid else invalid_branch(table, out, problems),
    }
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
