#include "thread_heap.hpp"

#include <cstdlib>

namespace jobgraph::detail {
namespace {

// The request goes through a volatile object: a block freed unused may otherwise be optimised
// away, request and all.
thread_local void* volatile large_request = nullptr;

}  // namespace

void tidy_thread_heap() noexcept {
    // glibc keeps freed small blocks in per-arena "fast bins" and merges them only when a thread
    // asks its arena for a block too large for them (1 KB or more). A job's result is usually
    // freed by another thread than the workers that built it, so its blocks land in the workers'
    // arenas and stay there, scattered; the next job's workers would build every task's JSON from
    // them. Asking once for 4 KB as a worker starts merges them first.
    large_request = std::malloc(4096);
    std::free(large_request);
}

}  // namespace jobgraph::detail
