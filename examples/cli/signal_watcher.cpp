#include "signal_watcher.hpp"

#include "report.hpp"

#include <jobgraph/services.hpp>

#include <string_view>
#include <thread>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace jobgraph::cli {
namespace {

void say(std::string_view text) {
    // Not stdio: the main thread may be in the middle of printing the summary.
    while (!text.empty()) {
        const ssize_t written = ::write(STDERR_FILENO, text.data(), text.size());
        if (written <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace

void interrupt_on_signals(RunControl control) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    // A signal then waits for sigwait below instead of landing in whichever thread runs; the
    // programs shell/run starts get their own mask and default handlers back.
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([control, signals]() mutable {
        int signal = 0;
        if (sigwait(&signals, &signal) != 0) return;
        control.interrupt();
        say("\njobgraph: interrupted; stopping the running tasks (once more to end at once)\n");
        if (sigwait(&signals, &signal) != 0) return;
        services::end_running_commands();
        say("jobgraph: ended at once\n");
        ::_exit(exit_interrupted);
    }).detach();
}

}  // namespace jobgraph::cli
