// JobState's retries, attempt timeouts, priorities, limits, cancel and interrupt, driven one
// transition at a time with every time given.
#include "job_state_machine.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;
using detail::HandlerOutcome;
using detail::JobState;

namespace {

RetryPolicy fixed_retry(int attempts, std::chrono::milliseconds delay, double backoff = 2.0,
                        std::chrono::milliseconds max_delay = 60000ms) {
    return RetryPolicy{.max_attempts = attempts, .delay = delay, .backoff = backoff, .max_delay = max_delay, .jitter = false};
}

TaskSpec retried(std::string id, RetryPolicy retry) {
    TaskSpec spec = named(std::move(id));
    spec.retry = retry;
    return spec;
}

}  // namespace

TEST_CASE("JobState: a failed attempt waits for its due time as retrying, then runs again", "[job_state][retry]") {
    Machine m(job({retried("a", fixed_retry(3, 10ms)), named("b", {"a"})}));
    m.state.begin();
    const auto a = m.start("a", 200);
    m.state.finish(a, 1, HandlerOutcome::failure("boom"), at(300), at(300));
    const TaskRecord& record = m.state.record(a);
    CHECK(record.status == TaskStatus::retrying);
    CHECK(record.history.back().reason == "Attempt 1 of 3 failed: boom; next attempt in 10 ms");
    CHECK(record.next_attempt_at == at(10'300));
    CHECK(record.output == json{{"error", "boom"}});
    CHECK(m.state.in_flight() == 0);
    CHECK_FALSE(m.state.done());  // a retry's due time keeps the job from ending (or deadlocking)
    CHECK(m.state.next_retry_due() == at(10'300));

    m.state.start_due_retries(at(10'299));
    CHECK_FALSE(m.state.has_ready());
    m.state.start_due_retries(at(10'300));
    REQUIRE(m.state.has_ready());
    m.start("a", 10'400);
    CHECK(record.attempts == 2);
    CHECK_FALSE(record.next_attempt_at.has_value());
    CHECK(record.started_at == at(200));  // the first attempt's start

    // The second delay grows by the backoff factor; the third attempt is the last.
    m.state.finish(a, 2, HandlerOutcome::failure("boom again"), at(10'500), at(10'500));
    CHECK(record.history.back().reason == "Attempt 2 of 3 failed: boom again; next attempt in 20 ms");
    m.state.start_due_retries(at(30'500));
    m.start("a", 30'600);
    m.state.finish(a, 3, HandlerOutcome::failure("still broken"), at(30'700), at(30'700));
    CHECK(record.status == TaskStatus::failed);
    CHECK(record.attempts == 3);
    CHECK(record.output == json{{"error", "still broken"}});
    CHECK(m.state.record(1).status == TaskStatus::aborted);  // b waited for a's final outcome
    CHECK(history_statuses(record) ==
          std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::retrying, TaskStatus::started,
                                  TaskStatus::retrying, TaskStatus::started, TaskStatus::failed});
    CHECK(m.state.done());
}

TEST_CASE("JobState: delays grow by the backoff up to maxDelay, and jitter draws within the computed delay",
          "[job_state][retry]") {
    SECTION("no jitter: exactly delay * backoff^(k-1), capped") {
        Machine m(job({retried("a", fixed_retry(5, 10ms, 3.0, 50ms))}));
        m.state.begin();
        std::vector<std::string> reasons;
        std::int64_t now = 200;
        for (int attempt = 1; attempt <= 4; ++attempt) {
            const auto a = m.start("a", now);
            m.state.finish(a, attempt, HandlerOutcome::failure("x"), at(now + 1), at(now + 1));
            reasons.push_back(m.state.record(a).history.back().reason);
            now = m.state.record(a).next_attempt_at->time_since_epoch().count();
            m.state.start_due_retries(at(now));
        }
        CHECK(reasons == std::vector<std::string>{"Attempt 1 of 5 failed: x; next attempt in 10 ms",
                                                  "Attempt 2 of 5 failed: x; next attempt in 30 ms",
                                                  "Attempt 3 of 5 failed: x; next attempt in 50 ms",
                                                  "Attempt 4 of 5 failed: x; next attempt in 50 ms"});
    }
    SECTION("full jitter: uniform in [0, computed delay], the same for the same seed") {
        auto delays_with_seed = [](std::uint64_t seed) {
            RetryPolicy retry = fixed_retry(6, 100ms);
            retry.jitter = true;
            Machine m(job({retried("a", retry)}), detail::JobStateOptions{.jitter_seed = seed});
            m.state.begin();
            std::vector<std::int64_t> delays;
            std::int64_t now = 200;
            for (int attempt = 1; attempt <= 5; ++attempt) {
                const auto a = m.start("a", now);
                m.state.finish(a, attempt, HandlerOutcome::failure("x"), at(now), at(now));
                const auto due = m.state.record(a).next_attempt_at->time_since_epoch().count();
                delays.push_back((due - now) / 1000);
                CHECK(delays.back() >= 0);
                CHECK(delays.back() <= 100 * (1 << (attempt - 1)));
                now = due;
                m.state.start_due_retries(at(now));
            }
            return delays;
        };
        CHECK(delays_with_seed(7) == delays_with_seed(7));
    }
}

TEST_CASE("JobState: a permanent failure, or a stop, ends retries", "[job_state][retry]") {
    SECTION("a permanent failure is final at once") {
        Machine m(job({retried("a", fixed_retry(3, 10ms))}));
        m.state.begin();
        const auto a = m.start("a", 200);
        m.state.finish(a, 1, HandlerOutcome::permanent_failure("404"), at(300), at(300));
        CHECK(m.state.record(a).status == TaskStatus::failed);
        CHECK(m.state.record(a).attempts == 1);
    }
    SECTION("a failure with abortOnFailure aborts a retrying task with the stop's reason") {
        Machine m(job({retried("a", fixed_retry(3, 10ms)), named("b")}));
        m.state.begin();
        const auto a = m.start("a", 200);
        const auto b = m.start("b", 200);
        m.state.finish(a, 1, HandlerOutcome::failure("flaky"), at(300), at(300));
        REQUIRE(m.state.record(a).status == TaskStatus::retrying);
        m.state.finish(b, 1, HandlerOutcome::failure("broken"), at(400), at(400));
        CHECK(m.state.record(a).status == TaskStatus::aborted);
        CHECK(m.state.record(a).history.back().reason == "Previous task failed and abortOnFailure is true");
        CHECK(m.state.record(a).history.back().at == at(400));
        CHECK(m.state.done());
    }
}

TEST_CASE("JobState: a timed-out attempt is retried only once its call has returned", "[job_state][timeout]") {
    TaskSpec spec = retried("a", fixed_retry(2, 10ms));
    spec.timeout = 50ms;
    Machine m(job({spec}));
    m.state.begin();
    const auto a = m.start("a", 200);
    m.state.time_out_attempt(a, 1, at(50'200));
    CHECK(m.state.record(a).status == TaskStatus::retrying);
    CHECK(m.state.record(a).history.back().reason ==
          "Attempt 1 of 2 failed: Task timeout: 50ms limit exceeded; next attempt in 10 ms");
    // Due at 60,200, but the first call still runs: nothing starts, and no due time is offered.
    m.state.start_due_retries(at(70'000));
    CHECK_FALSE(m.state.has_ready());
    CHECK_FALSE(m.state.next_retry_due().has_value());
    // The late return is ignored, and frees the task to run again.
    m.state.finish(a, 1, HandlerOutcome::success(json{{"late", true}}), at(80'000), at(80'000));
    CHECK(m.state.record(a).status == TaskStatus::retrying);
    CHECK(m.state.record(a).output == json{{"error", "Task timeout: 50ms limit exceeded"}});
    REQUIRE(m.state.has_ready());
    m.start("a", 80'100);
    m.state.finish(a, 2, HandlerOutcome::success(json{{"n", 2}}), at(80'200), at(80'200));
    CHECK(m.state.record(a).status == TaskStatus::succeeded);
    CHECK(m.state.record(a).output == json{{"n", 2}});
    CHECK(m.state.done());
}

TEST_CASE("JobState: higher priority starts first, ties in creation order", "[job_state][priority]") {
    TaskSpec low = named("low");
    TaskSpec high1 = named("high1");
    high1.priority = 5;
    TaskSpec high2 = named("high2");
    high2.priority = 5;
    TaskSpec negative = named("negative");
    negative.priority = -1;
    JobSpec spec = job({negative, low, high1, high2});
    spec.task_defaults.priority = 1;  // "low" sets none: it gets the job's default
    Machine m(std::move(spec));
    m.state.begin();
    m.start("high1", 200);
    m.start("high2", 200);
    m.start("low", 200);
    m.start("negative", 200);
}

TEST_CASE("JobState: a full limit holds back only the tasks it covers", "[job_state][limits]") {
    JobSpec spec = job({named("a"), named("b"), task("t", "sleep", {}, {}, "s")});
    spec.concurrency = {{"t/echo", 1}};
    Machine m(std::move(spec));
    m.state.begin();
    const auto a = m.start("a", 200);
    m.start("s", 200);  // b is held back by t/echo's limit; s is not covered by it
    CHECK_FALSE(m.state.start_next(at(200)).has_value());
    m.state.finish(a, 1, HandlerOutcome::success(), at(300), at(300));
    m.start("b", 300);
}

TEST_CASE("JobState: cancel aborts every unfinished task with its reason, and the job ends cancelled",
          "[job_state][cancel]") {
    Machine m(job({named("running"), retried("flaky", fixed_retry(3, 10ms)), named("waiting", {"running"})}));
    m.state.begin();
    const auto running = m.start("running", 200);
    const auto flaky = m.start("flaky", 200);
    m.state.finish(flaky, 1, HandlerOutcome::failure("x"), at(250), at(250));
    m.state.cancel("operator asked", at(300));
    CHECK(m.state.take_stop_signal());
    CHECK(m.state.record(flaky).status == TaskStatus::aborted);
    CHECK(m.state.record(2).status == TaskStatus::aborted);
    CHECK(m.state.record(2).output == json{{"error", "Job cancelled: operator asked"}});
    CHECK_FALSE(m.state.done());  // "running" has not come back
    m.state.finish(running, 1, HandlerOutcome::abort("Stopped on request"), at(400), at(400));
    CHECK(m.state.record(running).history.back().reason == "Job cancelled: operator asked");
    REQUIRE(m.state.done());
    const JobResult result = m.state.take_result(at(500), 1);
    CHECK(result.status == JobStatus::cancelled);
    CHECK(result.error_message == "Job cancelled: operator asked");
    CHECK(result.stats.aborted == 3);
}

TEST_CASE("JobState: interrupt leaves the job as a resume should find it", "[job_state][interrupt]") {
    Machine m(job({named("gives-up"), named("finishes"), retried("flaky", fixed_retry(3, 10ms)),
                   named("later", {"gives-up"})}));
    m.state.begin();
    const auto gives_up = m.start("gives-up", 200);
    const auto finishes = m.start("finishes", 200);
    const auto flaky = m.start("flaky", 200);
    m.state.finish(flaky, 1, HandlerOutcome::failure("x"), at(250), at(250));
    m.state.interrupt(at(300));
    CHECK(m.state.take_stop_signal());
    CHECK_FALSE(m.state.done());
    m.state.finish(finishes, 1, HandlerOutcome::success(json{{"kept", true}}), at(310), at(310));
    m.state.finish(gives_up, 1, HandlerOutcome::abort("Stopped on request"), at(320), at(320));
    REQUIRE(m.state.done());
    CHECK(m.state.record(gives_up).status == TaskStatus::pending);
    CHECK(m.state.record(gives_up).history.back().reason == "Interrupted");
    CHECK(m.state.record(gives_up).attempts == 1);
    CHECK(m.state.record(finishes).status == TaskStatus::succeeded);
    CHECK(m.state.record(flaky).status == TaskStatus::retrying);
    CHECK(m.state.record(flaky).next_attempt_at == at(10'250));
    CHECK(m.state.record(3).status == TaskStatus::pending);
    const JobResult result = m.state.take_result(at(400), 1);
    CHECK(result.status == JobStatus::interrupted);
    CHECK(result.stats.retrying == 1);
    CHECK(result.stats.pending == 2);
}

TEST_CASE("JobState: a restored retrying task keeps its due time", "[job_state][retry]") {
    std::vector<TaskRecord> stored;
    {
        Machine first(job({retried("a", fixed_retry(3, 10ms))}));
        first.state.begin();
        const auto a = first.start("a", 200);
        first.state.finish(a, 1, HandlerOutcome::failure("x"), at(300), at(300));
        stored.push_back(first.state.record(a));
    }
    Machine second(job({retried("a", fixed_retry(3, 10ms))}), {}, stored);
    second.state.begin();
    CHECK_FALSE(second.state.has_ready());
    CHECK(second.state.next_retry_due() == at(10'300));
    second.state.start_due_retries(at(10'300));
    second.start("a", 10'400);
    CHECK(second.state.record(0).attempts == 2);
}
