#pragma once
// The observer as an output of a run. Events are queued under the job's lock, in the order
// they were recorded, and delivered after it is released, one call at a time. An observer that
// throws is not called again in that run; the job's history says so.

#include "core/job_state.hpp"

#include "jobgraph/observer.hpp"
#include "jobgraph/result.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::detail {

class ObserverSink {
public:
    explicit ObserverSink(JobObserver& observer) : observer_(observer) {}

    void job_started(std::string_view name, std::size_t initial_tasks);
    /// Under the job's lock: takes the events of one batch of changes, leaving @p events empty.
    void queue(std::vector<JobEvent>& events);
    /// Outside the job's lock: delivers what is queued, in order. Returns once every event
    /// queued before the call has been delivered.
    void deliver();
    /// The last call: adds the observer's failure, if any, to the result's history first.
    void job_finished(JobResult& result);

private:
    // Calls @p call unless the observer failed before; catches what it throws.
    template <typename Call>
    void guarded(Call&& call);

    JobObserver& observer_;
    std::mutex delivery_mutex_;  // one call at a time; taken before queue_mutex_
    std::mutex queue_mutex_;
    std::vector<JobEvent> queued_;
    std::vector<JobEvent> delivering_;
    std::optional<std::string> failure_;  // what the observer threw
    Timestamp failed_at_{};
};

}  // namespace jobgraph::detail
