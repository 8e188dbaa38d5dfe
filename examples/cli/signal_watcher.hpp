#pragma once
/// @file signal_watcher.hpp
/// @brief Ctrl-C and SIGTERM while a job runs: the first interrupts the run (a stored job can
/// then be resumed), a second ends the programs shell/run started and the runner at once.

#include <jobgraph/run_control.hpp>

namespace jobgraph::cli {

/// @brief Blocks SIGINT and SIGTERM in the calling thread, and so in every thread started after
/// (call it before the first), and starts a thread that waits for them with sigwait: the first
/// calls @p control.interrupt(), a second ends the running shell/run process groups and the
/// process with _exit(130). The thread lives until the process ends.
void interrupt_on_signals(RunControl control);

}  // namespace jobgraph::cli
