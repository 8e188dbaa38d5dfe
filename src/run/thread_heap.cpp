#include "run/thread_heap.hpp"

#include <cstdlib>

namespace jobgraph::detail {

void tidy_thread_heap() noexcept {
#if defined(__GLIBC__)
    // glibc keeps freed small blocks (up to 128 bytes by default) in per-arena fast bins and
    // merges them when the arena is asked for a block in its large range (1 KB and up). A job's
    // result is usually freed by another thread than the workers that built it, so its blocks
    // land in the workers' arenas and stay there, scattered; the next job's workers, the same
    // threads or new ones that take over those arenas, would build every task's JSON from them.
    // One 4 KB request (below the mmap threshold, so served by the arena) as a worker starts a
    // job merges them first.
    // Through a volatile: a block freed unused may otherwise be optimised away, request and all.
    void* volatile block = std::malloc(4096);
    std::free(block);
#endif
}

}  // namespace jobgraph::detail
