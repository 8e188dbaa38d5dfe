#!/usr/bin/env python3
"""Keeps docs/job.schema.json true to the runner.

Every example job and every job fixture the runner accepts must pass the schema. The files under
tests/cli/jobs/schema/valid/ must pass both (fields no example uses); the other folders under
tests/cli/jobs/schema/ hold files refused, each for one reason:
  invalid/      by both the schema and `jobgraph validate` (the reason is checked on both sides);
  runner-only/  by `jobgraph validate` only: what a schema cannot see (a service/command that is
                not registered, in a task or as a concurrency key, duplicate ids, a dependency on
                no task, a cycle, more initial tasks than maxTasks, a retry maxDelay below the
                delay given beside it, and 3.0 where an integer is due: JSON Schema counts 3.0 as
                an integer, the runner does not);
  spawn-time/   by the schema now, and by the runner when the task spawns them: the schema checks
                the task specs inside core/spawn's "children", the runner checks a batch of
                children when it is spawned, so `validate` accepts the file and `run` fails.

Usage: test_job_schema.py RUNNER SCHEMA EXAMPLES_DIR FIXTURES_DIR
Exits 77 (skipped) when the jsonschema module is missing (Debian: python3-jsonschema).
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("skipped: the Python module jsonschema is missing (apt-get install python3-jsonschema)")
    sys.exit(77)

# invalid/<name>.json -> (where the schema finds the problem, what the runner's message says)
BOTH_REFUSE = {
    "unknown-job-field": ("", 'job: unknown field "retries"'),
    "unknown-task-field": ("tasks/0", 'tasks[0]: unknown field "after"'),
    "missing-name": ("", "Job name must be a non-empty string"),
    "empty-name": ("name", "Job name must be a non-empty string"),
    "name-not-string": ("name", 'job: "name" must be a string, got 42'),
    "missing-tasks": ("", "Job must have at least one task"),
    "empty-tasks": ("tasks", "Job must have at least one task"),
    "tasks-not-array": ("tasks", 'job: "tasks" must be an array of task specs, got object'),
    "task-not-object": ("tasks/0", 'tasks[0]: a task must be a JSON object, got "core/echo"'),
    "job-not-object": ("", "job: must be a JSON object, got array"),
    "bad-mode": ("mode", 'job: "mode" must be "parallel" or "sequential", got "random"'),
    "zero-max-tasks": ("maxTasks", "maxTasks must be at least 1, got 0"),
    "negative-max-depth": ("maxDepth", "maxDepth must be at least 0, got -1"),
    "negative-timeout": ("timeout", "timeout must be at least 0, got -5"),
    "max-tasks-not-integer": ("maxTasks", 'job: "maxTasks" must be an integer, got "100"'),
    "max-depth-fraction": ("maxDepth", 'job: "maxDepth" must be an integer, got 2.5'),
    "max-tasks-too-large": ("maxTasks", 'job: "maxTasks" is too large: 9223372036854775808'),
    "abort-on-failure-not-boolean": ("abortOnFailure", 'job: "abortOnFailure" must be true or false, got "yes"'),
    "require-approval-not-boolean": ("requireApproval", 'job: "requireApproval" must be true or false, got 1'),
    "missing-service": ("tasks/0", "Task t: service and command must be non-empty strings"),
    "empty-command": ("tasks/0/command", "Task t: service and command must be non-empty strings"),
    "id-not-string": ("tasks/0/id", 'tasks[0]: "id" must be a string, got 7'),
    "empty-id": ("tasks/0/id", "tasks[0]: id must not be empty"),
    "depends-on-not-array": ("tasks/1/dependsOn", 'tasks[1]: "dependsOn" must be an array of task ids'),
    "depends-on-empty-id": ("tasks/1/dependsOn/0", 'tasks[1]: "dependsOn" entries must be non-empty strings, got ""'),
    "input-not-object": ("tasks/0/input", 'tasks[0]: "input" must be a JSON object, got [1,2]'),
    "sleep-without-ms": ("tasks/0/input", '"ms" is required'),
    "sleep-negative-ms": ("tasks/0/input/ms", '"ms" must be a non-negative integer, got -1'),
    "sleep-ms-not-integer": ("tasks/0/input/ms", '"ms" must be a non-negative integer, got "soon"'),
    "fail-message-not-string": ("tasks/0/input/message", '"message" must be a string, got 404'),
    "spawn-children-not-array": ("tasks/0/input/children", '"children" must be an array of task specs'),
    "spawn-output-not-object": ("tasks/0/input/output", '"output" must be a JSON object, got "done"'),
    "shell-without-input": ("tasks/0", '"argv" must be a non-empty array of strings'),
    "shell-empty-argv": ("tasks/0/input/argv", '"argv" must be a non-empty array of strings'),
    "shell-argv-not-strings": ("tasks/0/input/argv/1", '"argv" entries must be strings, got 1'),
    "shell-argv-empty-program": ("tasks/0/input/argv/0", '"argv"[0] must name a program'),
    "shell-cwd-not-string": ("tasks/0/input/cwd", '"cwd" must be a string, got ["/"]'),
    "shell-env-not-strings": ("tasks/0/input/env/LEVEL", '"env".LEVEL must be a string, got 3'),
    "shell-env-bad-name": ("tasks/0/input/env", '"env" has an invalid variable name "A=B"'),
    "shell-stdout-unknown": ("tasks/0/input/stdout", '"stdout" must be "text" or "json", got "yaml"'),
    "http-without-url": ("tasks/0/input", '"url" is required'),
    "http-url-not-web": ("tasks/0/input/url", '"url" must start with http:// or https://, got "ftp://example.com/file"'),
    "http-method-lower-case": ("tasks/0/input/method", '"method" must be an upper-case HTTP method'),
    "http-json-and-body": ("tasks/0/input", 'give "json" or "body", not both'),
    "http-bad-result": ("tasks/0/input/result", '"result" must be "response" (the default) or "body", got "headers"'),
    "http-header-two-lines": ("tasks/0/input/headers/X-Note", '"headers".X-Note must be a one-line string'),
    "llm-without-prompt": ("tasks/0/input", 'give either "prompt": "..." or "messages"'),
    "llm-prompt-and-messages": ("tasks/0/input", 'give either "prompt": "..." or "messages"'),
    "llm-message-without-role": ("tasks/0/input/messages/0", 'each message must be {"role": "...", "content": ...}'),
    "llm-plan-not-boolean": ("tasks/0/input/plan", '"plan" must be true or false, got "yes"'),
    "llm-base-url-not-web": ("tasks/0/input/baseUrl", '"baseUrl" must be a URL starting with http:// or https://'),
    "llm-negative-timeout": ("tasks/0/input/timeout", '"timeout" must be a non-negative integer (milliseconds), got -1'),
    "task-negative-timeout": ("tasks/0/timeout", "Task t: timeout must be at least 0, got -1"),
    "task-timeout-not-integer": ("tasks/0/timeout", 'tasks[0]: "timeout" must be an integer, got "5s"'),
    "retry-not-object": ("tasks/0/retry", 'tasks[0]: "retry" must be a JSON object, got 3'),
    "retry-unknown-member": ("tasks/0/retry", 'tasks[0]: unknown field "retry.tries"'),
    "retry-zero-attempts": ("tasks/0/retry/maxAttempts", "Task t: retry.maxAttempts must be at least 1, got 0"),
    "retry-negative-delay": ("tasks/0/retry/delay", "Task t: retry.delay must be at least 0, got -1"),
    "retry-backoff-below-one": ("tasks/0/retry/backoff", "Task t: retry.backoff must be at least 1, got 0.5"),
    "retry-backoff-not-number": ("tasks/0/retry/backoff", 'tasks[0]: "retry.backoff" must be a number, got "2x"'),
    "retry-jitter-not-boolean": ("tasks/0/retry/jitter", 'tasks[0]: "retry.jitter" must be true or false, got "yes"'),
    # Without the other member, the default delay (1000) and the default maxDelay (60000) count.
    "retry-max-delay-below-default-delay": ("tasks/0/retry/maxDelay",
                                            "Task t: retry.maxDelay must be at least retry.delay (1000), got 500"),
    "retry-delay-above-default-max-delay": ("tasks/0/retry/delay",
                                            "Task t: retry.maxDelay must be at least retry.delay (120000), got 60000"),
    "priority-not-integer": ("tasks/0/priority", 'tasks[0]: "priority" must be an integer, got "high"'),
    "priority-too-large": ("tasks/0/priority", 'tasks[0]: "priority" is too large: 2147483648'),
    "task-defaults-not-object": ("taskDefaults", 'job: "taskDefaults" must be a JSON object, got []'),
    "task-defaults-unknown-field": ("taskDefaults", 'taskDefaults: unknown field "dependsOn"'),
    "task-defaults-bad-backoff": ("taskDefaults/retry/backoff", "taskDefaults: retry.backoff must be at least 1, got 0.5"),
    "concurrency-not-object": ("concurrency", 'job: "concurrency" must be a JSON object, got 4'),
    "concurrency-not-integer": ("concurrency/core", 'concurrency: "core" must be an integer, got "2"'),
    "concurrency-zero": ("concurrency/core", 'concurrency: "core" must be at least 1, got 0'),
}

# runner-only/<name>.json -> what the runner's message says
RUNNER_ONLY = {
    "unknown-service": "Unknown service/command: mail/send",
    "duplicate-ids": "Duplicate task id: hello",
    "unknown-dependency": "Task t depends on non-existent task fetch",
    "cycle": "Circular dependencies detected: ",
    "more-tasks-than-max-tasks": "Job has 2 initial tasks, more than maxTasks (1)",
    "integer-with-fraction": 'job: "maxDepth" must be an integer, got 3.0',
    "concurrency-unknown-service": 'concurrency: "mail" names no registered service',
    "concurrency-unknown-command": 'concurrency: "core/nope" names no registered service/command',
    "retry-max-delay-below-delay": "Task t: retry.maxDelay must be at least retry.delay (500), got 100",
}

# spawn-time/<name>.json -> (where the schema finds the problem, what the spawning task's error says)
SPAWN_TIME = {
    "child-unknown-field": ("tasks/0/input/children/0", 'childTasks[0]: unknown field "after"'),
    "child-missing-command": ("tasks/0/input/children/0", "Child task validation failed for parent t"),
    "child-bad-retry": ("tasks/0/input/children/0/retry/maxAttempts",
                        "Child task validation failed for parent t:\nChild task t-0: retry.maxAttempts must be at least 1, got 0"),
}


class Checker:
    def __init__(self, runner, schema_path):
        self.runner = runner
        with open(schema_path, encoding="utf-8") as file:
            schema = json.load(file)
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        self.validator = validator_class(schema)
        self.failures = []

    def fail(self, path, what):
        self.failures.append(f"{os.path.relpath(path)}: {what}")

    def schema_errors(self, path):
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
        return list(self.validator.iter_errors(document))

    def runner_validate(self, path):
        done = subprocess.run([self.runner, "validate", path], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stderr

    def runner_run(self, path):
        with tempfile.TemporaryDirectory() as scratch:
            result_path = os.path.join(scratch, "result.json")
            done = subprocess.run([self.runner, "run", path, "--quiet", "--json", result_path],
                                  capture_output=True, text=True, timeout=60)
            with open(result_path, encoding="utf-8") as file:
                return done.returncode, json.load(file)

    def expect_accepted(self, path):
        errors = self.schema_errors(path)
        if errors:
            self.fail(path, "the schema refuses a file the runner accepts: " +
                      "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors))
        code, err = self.runner_validate(path)
        if code != 0:
            self.fail(path, f"jobgraph validate exited {code}: {err.strip()}")

    def expect_schema_error_at(self, path, where):
        errors = self.schema_errors(path)
        places = sorted({"/".join(map(str, e.absolute_path)) for e in errors})
        if not errors:
            self.fail(path, "the schema accepts it")
        elif where not in places:
            self.fail(path, f"the schema refuses it at {places}, expected at '{where}'")

    def expect_both_refuse(self, path, where, message):
        self.expect_schema_error_at(path, where)
        code, err = self.runner_validate(path)
        if code != 2:
            self.fail(path, f"jobgraph validate exited {code}, expected 2")
        elif message not in err:
            self.fail(path, f"jobgraph validate said {err.strip()!r}, expected it to mention {message!r}")

    def expect_runner_only(self, path, message):
        errors = self.schema_errors(path)
        if errors:
            self.fail(path, f"the schema refuses it ({errors[0].message}): move it to invalid/")
        code, err = self.runner_validate(path)
        if code != 2 or message not in err:
            self.fail(path, f"jobgraph validate exited {code} saying {err.strip()!r}, expected 2 and {message!r}")

    def expect_refused_at_spawn(self, path, where, message):
        self.expect_schema_error_at(path, where)
        code, err = self.runner_validate(path)
        if code != 0:
            self.fail(path, f"jobgraph validate exited {code} ({err.strip()}); expected it to accept the file")
        code, result = self.runner_run(path)
        errors = [t["output"].get("error", "") for t in result["tasks"] if t["status"] == "failed"]
        if code != 1 or not any(message in error for error in errors):
            self.fail(path, f"jobgraph run exited {code} with task errors {errors}, expected 1 and {message!r}")


def check_listed_folder(checker, folder, expected):
    on_disk = {os.path.basename(p)[:-len(".json")] for p in glob.glob(os.path.join(folder, "*.json"))}
    for name in sorted(on_disk ^ set(expected)):
        checker.fail(os.path.join(folder, name + ".json"), "on disk but not listed in this test, or listed but missing")
    return sorted(on_disk & set(expected))


def main():
    runner, schema_path, examples_dir, fixtures_dir = sys.argv[1:5]
    checker = Checker(runner, schema_path)

    examples = sorted(glob.glob(os.path.join(examples_dir, "*.json")))
    if not examples:
        checker.fail(examples_dir, "no example jobs found")
    for path in examples:
        checker.expect_accepted(path)
    # Fixtures of other tests: whatever the runner accepts, the schema must accept too.
    for path in sorted(glob.glob(os.path.join(fixtures_dir, "*.json"))):
        if checker.runner_validate(path)[0] == 0:
            checker.expect_accepted(path)

    cases = os.path.join(fixtures_dir, "schema")
    valid = sorted(glob.glob(os.path.join(cases, "valid", "*.json")))
    if not valid:
        checker.fail(os.path.join(cases, "valid"), "no valid cases found")
    for path in valid:
        checker.expect_accepted(path)
    for name in check_listed_folder(checker, os.path.join(cases, "invalid"), BOTH_REFUSE):
        checker.expect_both_refuse(os.path.join(cases, "invalid", name + ".json"), *BOTH_REFUSE[name])
    for name in check_listed_folder(checker, os.path.join(cases, "runner-only"), RUNNER_ONLY):
        checker.expect_runner_only(os.path.join(cases, "runner-only", name + ".json"), RUNNER_ONLY[name])
    for name in check_listed_folder(checker, os.path.join(cases, "spawn-time"), SPAWN_TIME):
        checker.expect_refused_at_spawn(os.path.join(cases, "spawn-time", name + ".json"), *SPAWN_TIME[name])

    checked = len(examples) + len(valid) + len(BOTH_REFUSE) + len(RUNNER_ONLY) + len(SPAWN_TIME)
    if checker.failures:
        print(f"{len(checker.failures)} disagreement(s) between docs/job.schema.json and the runner:")
        for failure in checker.failures:
            print("  " + failure)
        return 1
    print(f"schema and runner agree on {checked} files ({len(examples)} examples, {len(valid)} valid cases, "
          f"{len(BOTH_REFUSE)} refused by both, "
          f"{len(RUNNER_ONLY)} runner-only, {len(SPAWN_TIME)} refused at spawn time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
