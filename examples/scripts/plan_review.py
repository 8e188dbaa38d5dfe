#!/usr/bin/env python3
"""Plans a review of a source tree, for the ai-planning example job.

Run by shell/run with "stdout": "json": it looks at the files under FOLDER (default: the
current directory), decides which checks are worth running, and prints them as childTasks for
jobgraph to spawn. Each check is an ordinary program (wc, grep, sha256sum, python3) that writes
its one-line finding to the job's output folder, $TMPDIR/jobgraph-examples/ai-planning (TMPDIR
defaults to /tmp); a last task, waiting for all the others, joins the findings into report.txt.

Usage: plan_review.py [FOLDER]
"""

import json
import os
import sys
import tempfile

# Which kinds of file the review knows, by name ending; the first match wins.
KINDS = [
    ("cpp", "C++", (".cpp", ".hpp", ".cc", ".h", ".cxx", ".hxx")),
    ("cmake", "CMake", ("CMakeLists.txt", ".cmake")),
    ("python", "Python", (".py",)),
    ("shell", "shell", (".sh",)),
    ("json", "JSON", (".json",)),
    ("markdown", "Markdown", (".md",)),
]
SKIPPED_FOLDERS = ("build", "__pycache__", "node_modules")
# A marker counts in a comment only (after //, /* or #), not in code that merely names one.
MARKERS = r"(//|/\*|#).*\b(TODO|FIXME|XXX|HACK)\b"

# One line per kind: files, lines, and the longest file. /dev/null makes wc print a total even
# for a single file: the last two lines are /dev/null and the total.
COUNT_LINES = (
    'wc -l "$@" /dev/null | awk -v kind="$KIND" \'{ count[NR] = $1; name[NR] = $2 } '
    'END { for (i = 1; i <= NR - 2; i++) if (i == 1 || count[i] > most) { most = count[i]; longest = name[i] } '
    'printf "%s: %d file%s, %d lines; longest %s (%d lines)\\n", kind, NR - 2, NR == 3 ? "" : "s", count[NR], longest, most }\' '
    '| tee "$OUT/$TASK.txt"'
)
FIND_MARKERS = (
    'found=$(grep -n -E "$PATTERN" "$@" | cut -d : -f 1,2); '
    'if [ -z "$found" ]; then echo "TODO/FIXME comments: none in $# C++ files"; '
    'else printf "TODO/FIXME comments: %s, at %s\\n" "$(echo "$found" | wc -l)" "$(echo "$found" | head -n 3 | paste -sd " " -)"; fi '
    '| tee "$OUT/$TASK.txt"'
)
FINGERPRINT = (
    'sha256sum "$@" > "$OUT/headers.sha256" && '
    'echo "$# public headers: SHA-256 sums in headers.sha256" | tee "$OUT/$TASK.txt"'
)
CHECK_JSON = """
import json, os, sys
bad = []
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as file:
            json.load(file)
    except ValueError as error:
        bad.append(f"{path}:{getattr(error, 'lineno', '?')}")
total = len(sys.argv) - 1
line = f"{total - len(bad)} of {total} JSON files parse"
line += "; malformed: " + ", ".join(bad) if bad else ""
print(line)
with open(os.path.join(os.environ["OUT"], os.environ["TASK"] + ".txt"), "w", encoding="utf-8") as file:
    print(line, file=file)
"""
REPORT = (
    'cd "$OUT" && cat "$@" > report.txt && '
    'echo "report.txt: $(wc -l < report.txt) findings in $OUT"'
)


def kind_of(name):
    for key, _, endings in KINDS:
        if name.endswith(endings):
            return key
    return None


def scan(root):
    """Files by kind, as paths relative to root, in a stable order."""
    found = {key: [] for key, _, _ in KINDS}
    others = 0
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and not d.startswith(SKIPPED_FOLDERS))
        for name in sorted(files):
            path = os.path.relpath(os.path.join(folder, name), root)
            kind = kind_of(name)
            if kind:
                found[kind].append(path)
            else:
                others += 1
    return found, others


def shell_check(task_id, script, files, root, out, extra_env=None):
    env = {"OUT": out, "TASK": task_id}
    env.update(extra_env or {})
    return {
        "id": task_id,
        "service": "shell",
        "command": "run",
        "input": {"argv": ["sh", "-c", script, "sh", *files], "cwd": root, "env": env},
    }


def plan(root, out):
    found, others = scan(root)
    names = {key: name for key, name, _ in KINDS}
    children, reasons = [], []

    for key, files in found.items():
        if files:
            children.append(shell_check(f"count-{key}", COUNT_LINES, files, root, out, {"KIND": names[key]}))
    if found["cpp"]:
        children.append(shell_check("markers", FIND_MARKERS, found["cpp"], root, out, {"PATTERN": MARKERS}))
        reasons.append(f"{len(found['cpp'])} C++ files: look for TODO/FIXME comments")
    headers = [p for p in found["cpp"] if p.startswith("include" + os.sep)]
    if headers:
        children.append(shell_check("fingerprint-headers", FINGERPRINT, headers, root, out))
        reasons.append(f"{len(headers)} public headers under include/: record their SHA-256")
    if found["json"]:
        child = shell_check("check-json", "", found["json"], root, out)
        child["input"]["argv"] = ["python3", "-c", CHECK_JSON, *found["json"]]
        children.append(child)
        reasons.append(f"{len(found['json'])} JSON files: check that each parses")
    skipped = [names[key] for key, files in found.items() if not files]
    if skipped:
        reasons.append("nothing to count for: " + ", ".join(skipped))

    findings = [c["id"] + ".txt" for c in children]
    children.append({
        "id": "report",
        "service": "shell",
        "command": "run",
        "dependsOn": [c["id"] for c in children],
        "input": {"argv": ["sh", "-c", REPORT, "sh", *findings], "env": {"OUT": out}},
    })

    tally = {names[key]: len(files) for key, files in found.items() if files}
    summary = f"{sum(tally.values())} files of {len(tally)} kinds, {others} others: {len(children)} tasks planned"
    output = {"summary": summary, "tally": tally}
    return {"output": output, "trace": {"root": root, "reasons": reasons}, "childTasks": children}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    if not os.path.isdir(root):
        print(f"plan_review.py: no such folder: {root}", file=sys.stderr)
        return 1
    out = os.path.join(tempfile.gettempdir(), "jobgraph-examples", "ai-planning")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith((".txt", ".sha256")):
            os.remove(os.path.join(out, name))
    json.dump(plan(os.path.abspath(root), out), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
