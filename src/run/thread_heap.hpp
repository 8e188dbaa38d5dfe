#pragma once
// Readies the calling thread's part of the C allocator before it builds many small blocks.

namespace jobgraph::detail {

/// Under glibc, merges the small blocks freed into the calling thread's arena, so that the blocks
/// it allocates next are carved in order rather than picked from scattered leftovers. Does
/// nothing with other C libraries.
void tidy_thread_heap() noexcept;

}  // namespace jobgraph::detail
