#include "job_status.hpp"

#include "stored_jobs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

namespace jobgraph::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Soon after a short job ends, yet without a query a few times a second on a long one.
constexpr std::chrono::milliseconds first_poll = 200ms;
constexpr std::chrono::milliseconds longest_poll = 1s;

bool held_by_live_runner(const JobStore& store, std::string_view job_id) {
    for (const JobSummary& summary : store.list_jobs()) {
        if (summary.id == job_id) return summary.status == "running";
    }
    return false;
}

// The result of a job that has ended. An interrupted run's result stays in the store while a
// resume runs the job again; until that run ends, the job has not.
std::optional<JobResult> ended_result(const JobStore& store, const StoredJob& job) {
    if (!job.result) return std::nullopt;
    if (job.result->status == JobStatus::interrupted && held_by_live_runner(store, job.id)) return std::nullopt;
    return job.result;
}

}  // namespace

int report_job_status(const StoreLocation& location, const std::string& job_id, const StatusOptions& options) {
    return with_store(location, StoreAccess::existing, [&](JobStore& store) {
        std::optional<StoredJob> job = load_stored_job(store, location, job_id);
        if (!job) return exit_usage;
        std::optional<JobResult> ended = ended_result(store, *job);
        if (options.wait) {
            std::optional<Clock::time_point> deadline;
            if (options.timeout_seconds) {
                deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(*options.timeout_seconds));
            }
            auto pause = first_poll;
            while (!ended && (!deadline || Clock::now() < *deadline)) {
                std::this_thread::sleep_for(deadline ? std::min<Clock::duration>(pause, *deadline - Clock::now())
                                                     : Clock::duration(pause));
                pause = std::min(pause * 3 / 2, longest_poll);
                job = load_stored_job(store, location, job_id);
                if (!job) return exit_usage;
                ended = ended_result(store, *job);
            }
        }
        if (ended) return report_result(*ended, options.output, location.display());

        job->result.reset();  // a stale interrupted result: show the records as they are now
        report_outputs(snapshot_of(*job), options.output, location.display());
        if (options.wait) {
            report_error(
                fmt::format("job {} has not ended within {:g} s", job_id, options.timeout_seconds.value_or(0)));
        }
        return exit_unfinished;
    });
}

}  // namespace jobgraph::cli
