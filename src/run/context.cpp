#include "jobgraph/context.hpp"

#include "run/job_run.hpp"
#include "jobgraph/errors.hpp"

namespace jobgraph {

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
bool Completion::abort(std::string reason) const {
    return state_->abort(std::move(reason));
}
std::stop_token Completion::stop_token() const noexcept {
    return state_->stop_token();
}

}  // namespace jobgraph
