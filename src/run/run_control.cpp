#include "jobgraph/run_control.hpp"

#include "run/run_control_state.hpp"

namespace jobgraph {

RunControl::RunControl() : state_(std::make_shared<detail::RunControlState>()) {}

bool RunControl::cancel(std::string reason) {
    return state_->request(StopRequest{StopRequest::Kind::cancel, std::move(reason)});
}

bool RunControl::interrupt() {
    return state_->request(StopRequest{StopRequest::Kind::interrupt, {}});
}

std::optional<StopRequest> RunControl::request() const {
    return state_->current();
}

}  // namespace jobgraph
