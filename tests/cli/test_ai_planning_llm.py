#!/usr/bin/env python3
"""Runs examples/jobs/ai-planning-llm.json without a model endpoint, and against the tests' own
chat-completions server (tests/support/test_server.py, on 127.0.0.1).

- Without an endpoint the plan task fails, saying how to set one (exit status 1).
- With the test server, and the prompt swapped for the server's cue for a canned plan (an
  echo, then a shell/run depending on it), the job ends awaiting approval (exit status 3): the
  example runs in plan mode, so the shell command a model planned waits for approval. The
  request the server received carries the example's model, system message and JSON answer format.

Usage: test_ai_planning_llm.py RUNNER EXAMPLE_JOB TEST_SERVER_SCRIPT
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request


def run_job(runner, job_path, env, scratch):
    result_path = os.path.join(scratch, "result.json")
    done = subprocess.run([runner, "run", job_path, "--quiet", "--json", result_path], env=env,
                          capture_output=True, text=True, timeout=120)
    with open(result_path, encoding="utf-8") as file:
        return done.returncode, json.load(file)


def tasks_by_id(result):
    return {task["id"]: task for task in result["tasks"]}


def main():
    runner, job_path, server_script = sys.argv[1:4]
    failures = []

    def check(condition, what):
        if not condition:
            failures.append(what)

    base_env = {k: v for k, v in os.environ.items() if k not in ("JOBGRAPH_LLM_BASE_URL", "OPENAI_BASE_URL")}
    with tempfile.TemporaryDirectory() as scratch:
        code, result = run_job(runner, job_path, base_env, scratch)
        plan = tasks_by_id(result)["plan"]
        check(code == 1, f"without an endpoint: exit status {code}, expected 1")
        check(result["status"] == "failed", f"without an endpoint: job {result['status']}, expected failed")
        check(plan["status"] == "failed", f"without an endpoint: plan {plan['status']}, expected failed")
        check("JOBGRAPH_LLM_BASE_URL" in plan["output"].get("error", ""),
              f"without an endpoint: the error does not say how to set one: {plan['output']}")

        server = subprocess.Popen([sys.executable, server_script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        try:
            first_line = server.stdout.readline().split()
            if len(first_line) != 2 or first_line[0] != "PORT":
                print(f"the test server did not start: {first_line}")
                return 1
            server_url = f"http://127.0.0.1:{first_line[1]}"

            with open(job_path, encoding="utf-8") as file:
                job = json.load(file)
            chat = job["tasks"][0]["input"]
            chat["prompt"] = "PLAN-VALID"
            cued_path = os.path.join(scratch, "ai-planning-llm.json")
            with open(cued_path, "w", encoding="utf-8") as file:
                json.dump(job, file)

            env = dict(base_env, JOBGRAPH_LLM_BASE_URL=server_url + "/v1")
            code, result = run_job(runner, cued_path, env, scratch)
            tasks = tasks_by_id(result)
            check(code == 3, f"with the test server: exit status {code}, expected 3")
            check(result["status"] == "awaiting_approval", f"with the test server: job {result['status']}")
            statuses = {task_id: task["status"] for task_id, task in tasks.items()}
            check(statuses == {"plan": "succeeded", "collect": "succeeded", "publish": "planned"},
                  f"with the test server: task statuses {statuses}")
            check(result["stats"]["total"] == 3 and result["stats"]["planned"] == 1,
                  f"with the test server: stats {result['stats']}")
            check(tasks["plan"]["children"] == ["collect", "publish"], f"plan's children: {tasks['plan']['children']}")

            with urllib.request.urlopen(f"{server_url}/recorded/{chat['model']}", timeout=10) as response:
                request = json.load(response)["request"]
            check(request.get("model") == chat["model"], f"the request's model: {request.get('model')}")
            check(request.get("response_format") == {"type": "json_object"},
                  f"the request's response_format: {request.get('response_format')}")
            contents = [message.get("content") for message in request.get("messages", [])]
            check(chat["system"] in contents, "the example's system message was not sent")
        finally:
            server.stdin.close()
            server.wait(timeout=10)

    if failures:
        print(f"{len(failures)} problem(s) with examples/jobs/ai-planning-llm.json:")
        for failure in failures:
            print("  " + failure)
        return 1
    print("ai-planning-llm.json: fails without an endpoint; against the test server it plans and awaits approval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
