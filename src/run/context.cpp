#include "jobgraph/context.hpp"

#include "run/handler_call.hpp"
#include "run/output_source.hpp"
#include "jobgraph/errors.hpp"

#include <stdexcept>

namespace jobgraph {

namespace detail {

void SpawnBuffer::add(TaskSpec child) {
    const std::lock_guard lock(mutex_);
    if (closed_) throw std::logic_error("TaskContext::spawn called after the handler returned");
    // Batches are mostly small: room for four at the first child spares a reallocation each.
    if (work_.children.capacity() == 0) work_.children.reserve(4);
    work_.children.push_back(std::move(child));
}

void SpawnBuffer::set_trace(nlohmann::json trace) {
    const std::lock_guard lock(mutex_);
    if (closed_) throw std::logic_error("TaskContext::set_trace called after the handler returned");
    work_.trace = std::move(trace);
}

SpawnedWork SpawnBuffer::close() {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    return std::move(work_);
}

}  // namespace detail

std::optional<nlohmann::json> TaskContext::output_of(std::string_view task_id) const {
    return outputs_.output_of(task_id);
}

void TaskContext::throw_if_stop_requested() const {
    if (stop_.stop_requested()) throw StopRequested();
}

bool Completion::succeed(nlohmann::json result) const {
    return state_->succeed(std::move(result));
}
bool Completion::fail(std::string message) const {
    return state_->fail(std::move(message));
}
bool Completion::fail_permanently(std::string message) const {
    return state_->fail(std::move(message), /*retryable=*/false);
}

bool Completion::abort(std::string reason) const {
    return state_->abort(std::move(reason));
}
std::stop_token Completion::stop_token() const noexcept {
    return state_->stop_token();
}

}  // namespace jobgraph
