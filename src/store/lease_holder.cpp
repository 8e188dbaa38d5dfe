#include "jobgraph/store.hpp"

#include <fmt/format.h>

#include <random>

#include <unistd.h>

namespace jobgraph {

LeaseHolder LeaseHolder::for_this_process() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) name[0] = '\0';
    LeaseHolder holder;
    holder.host = name[0] ? name : "localhost";
    holder.pid = static_cast<std::int64_t>(getpid());
    std::random_device random;
    holder.id = fmt::format("{}:{}:{:08x}", holder.host, holder.pid, random());
    return holder;
}

}  // namespace jobgraph
