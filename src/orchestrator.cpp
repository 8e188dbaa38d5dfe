#include "jobgraph/orchestrator.hpp"

#include "job_run.hpp"
#include "prepared_job.hpp"
#include "spec_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace jobgraph {
namespace {

JobResult rejected(std::string name, const std::vector<std::string>& problems, JobObserver* observer) {
    JobResult result;
    result.name = std::move(name);
    result.status = JobStatus::failed;
    result.error_message = fmt::format("Job validation failed:\n{}", fmt::join(problems, "\n"));
    result.started_at = now_utc();
    result.completed_at = result.started_at;
    result.history.push_back(JobHistoryEntry{JobStatus::failed, result.completed_at, *result.error_message});
    if (observer) observer->on_job_finished(result);
    return result;
}

}  // namespace

Orchestrator::Orchestrator(const HandlerRegistry& registry, OrchestratorOptions options)
    : registry_(registry),
      workers_(options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency())),
      options_(options) {}

JobResult Orchestrator::run(const JobSpec& job, JobObserver* observer) const {
    return run_prepared(detail::prepare_job(job, registry_), job.name, observer);
}

JobResult Orchestrator::run(const nlohmann::json& job, JobObserver* observer) const {
    std::vector<std::string> problems;
    JobSpec spec = detail::read_job(job, problems);
    std::string name = spec.name;
    return run_prepared(detail::prepare_job(std::move(spec), registry_, std::move(problems)), std::move(name),
                        observer);
}

JobResult Orchestrator::run_prepared(detail::Preparation preparation, std::string name, JobObserver* observer) const {
    if (!preparation.job) return rejected(std::move(name), preparation.problems, observer);
    detail::RunSettings settings{workers_, !options_.unsafe_skip_cycle_check, observer};
    auto run = std::make_shared<detail::JobRun>(registry_, std::move(*preparation.job), settings);
    return run->execute();
}

std::vector<std::string> Orchestrator::validate(const JobSpec& job) const {
    return detail::prepare_job(job, registry_).problems;
}

std::vector<std::string> Orchestrator::validate(const nlohmann::json& job) const {
    std::vector<std::string> problems;
    JobSpec spec = detail::read_job(job, problems);
    return detail::prepare_job(std::move(spec), registry_, std::move(problems)).problems;
}

}  // namespace jobgraph
