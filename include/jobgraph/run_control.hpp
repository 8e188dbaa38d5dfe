#pragma once
/// @file run_control.hpp
/// @brief Stops a running job from outside, from any thread: cancel (final) or interrupt
/// (resumable). See docs/semantics.md, "Cancelling and interrupting".

#include <memory>
#include <optional>
#include <string>

namespace jobgraph {

namespace detail {
class RunControlState;
}  // namespace detail

/// @brief How a run was asked to stop from outside.
struct StopRequest {
    enum class Kind { cancel, interrupt };
    Kind kind = Kind::cancel;
    std::string reason{};  ///< for a cancel: written into "Job cancelled: <reason>"
};

/// @brief A handle that stops a run while Orchestrator::run or resume blocks in another thread.
///
/// Pass it to one run; copies share the same request, so one copy can go to the run and
/// another to whatever decides to stop it (a signal watcher, a UI, a supervisor). The first
/// request wins; later ones change nothing. A request made before the run starts stops it as
/// soon as it starts: nothing runs, and a cancelled job ends `cancelled`.
///
/// @code
/// jobgraph::RunControl control;
/// std::thread watchdog([control]() mutable { wait_for_operator(); control.cancel("operator"); });
/// auto result = orchestrator.run(job, nullptr, &control);  // ends `cancelled`
/// @endcode
class RunControl {
public:
    RunControl();

    /// @brief Final stop: running handlers are asked to stop, nothing more starts, every task
    /// not finished ends `aborted` ("Job cancelled: <reason>") and the job `cancelled`.
    /// Returns false if a stop was requested before.
    bool cancel(std::string reason = "cancelled by the caller");
    /// @brief Resumable stop: nothing more starts, running handlers are asked to stop, and the
    /// run returns once they have, `interrupted`. Tasks that gave up go back to `pending`.
    /// Returns false if a stop was requested before.
    bool interrupt();

    /// @brief The request made so far, if any.
    std::optional<StopRequest> request() const;

    /// @brief For the orchestrator: the state copies share.
    const std::shared_ptr<detail::RunControlState>& state() const noexcept { return state_; }

private:
    std::shared_ptr<detail::RunControlState> state_;
};

}  // namespace jobgraph
