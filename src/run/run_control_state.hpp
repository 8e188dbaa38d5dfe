#pragma once
// What copies of one RunControl share: the request, once made, and the run listening for it.

#include "jobgraph/run_control.hpp"

#include <functional>
#include <mutex>
#include <optional>

namespace jobgraph::detail {

class RunControlState {
public:
    using Listener = std::function<void(const StopRequest&)>;

    // The first request wins. The listener is called under this object's mutex, so once
    // detach() has returned it is never called again.
    bool request(StopRequest request) {
        const std::lock_guard lock(mutex_);
        if (request_) return false;
        request_ = std::move(request);
        if (listener_) listener_(*request_);
        return true;
    }

    std::optional<StopRequest> current() const {
        const std::lock_guard lock(mutex_);
        return request_;
    }

    // Attaches a run; a request made before is delivered at once.
    void attach(Listener listener) {
        const std::lock_guard lock(mutex_);
        listener_ = std::move(listener);
        if (request_) listener_(*request_);
    }

    void detach() {
        const std::lock_guard lock(mutex_);
        listener_ = nullptr;
    }

private:
    mutable std::mutex mutex_;
    std::optional<StopRequest> request_;
    Listener listener_;
};

}  // namespace jobgraph::detail
