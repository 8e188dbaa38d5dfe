#pragma once
// What a task runs under: its own timeout, retry and priority, else the job's taskDefaults,
// else the contract's defaults. Applied once, when the task's record is made.

#include "jobgraph/spec.hpp"
#include "jobgraph/task_record.hpp"

namespace jobgraph::detail {

inline void apply_task_policy(TaskRecord& record, const TaskSpec& spec, const TaskDefaults& defaults) {
    record.timeout = spec.timeout.value_or(defaults.timeout.value_or(std::chrono::milliseconds{0}));
    record.retry = spec.retry.value_or(defaults.retry.value_or(RetryPolicy{}));
    record.priority = spec.priority.value_or(defaults.priority.value_or(0));
}

}  // namespace jobgraph::detail
