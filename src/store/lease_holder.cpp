// Who holds a stored job, and whether that holder can still be running.
#include "jobgraph/store.hpp"

#include "store/lease_liveness.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <limits>
#include <random>

#include <signal.h>
#include <unistd.h>

namespace jobgraph {

namespace detail {

std::string this_host() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
    return name[0] ? name : "localhost";
}

bool holder_has_exited(std::string_view host, std::int64_t pid) {
    // kill(0 or less) would address process groups, not one process.
    if (pid <= 0 || pid > std::numeric_limits<pid_t>::max()) return false;
    if (host != this_host()) return false;
    // Signal 0 only checks for the process; EPERM means it exists under another user.
    return ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
}

}  // namespace detail

LeaseHolder LeaseHolder::for_this_process() {
    LeaseHolder holder;
    holder.host = detail::this_host();
    holder.pid = static_cast<std::int64_t>(getpid());
    std::random_device random;
    holder.id = fmt::format("{}:{}:{:08x}", holder.host, holder.pid, random());
    return holder;
}

}  // namespace jobgraph
