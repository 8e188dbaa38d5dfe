// Peak memory: the program starts itself again with --memory-child, the child runs one chain
// on one system, with empty tasks or the JSON payload (--memory-payload), and reports VmHWM
// (peak resident set) before and after, as one JSON line.

#include "jobgraph_workloads.hpp"
#include "systems/system.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

namespace bench {
namespace {

long vm_hwm_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

}  // namespace

int memory_child_main(const std::string& system, std::uint32_t tasks, std::size_t workers, MemoryPayload payload) {
    const StaticGraph graph = chain(tasks);
    std::unique_ptr<System> runner;
    if (system == "jobgraph") runner = make_jobgraph_system(workers);
    if (system == "tbb") runner = make_tbb_system(static_cast<int>(workers));
    if (system == "loop") runner = make_loop_system();
    if (!runner) {
        fmt::print(stderr, "unknown system {}\n", system);
        return 2;
    }
    const long baseline = vm_hwm_kb();
    const RunResult result =
        payload == MemoryPayload::empty ? runner->run_empty_graph(graph) : runner->run_graph(graph);
    const long peak = vm_hwm_kb();
    const nlohmann::json line{{"baseline_kb", baseline}, {"peak_kb", peak}, {"sum", result.checksum.sum},
                              {"count", result.checksum.count}, {"ok", result.ok}, {"problem", result.problem}};
    std::cout << line.dump() << std::endl;
    return result.ok ? 0 : 1;
}

MemoryRun probe_memory(const std::string& self_path, const std::string& system, std::uint32_t tasks,
                       MemoryPayload payload) {
    MemoryRun run;
    const std::string command = fmt::format("'{}' --memory-child {} --memory-payload {} --tasks {}", self_path, system,
                                            payload == MemoryPayload::empty ? "empty" : "json", tasks);
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) {
        run.ok = false;
        run.problem = "cannot start " + command;
        return run;
    }
    std::string text;
    char buffer[4096];
    while (const std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe.get())) text.append(buffer, got);
    try {
        const auto line = nlohmann::json::parse(text);
        run.baseline_kb = line.at("baseline_kb").get<long>();
        run.peak_kb = line.at("peak_kb").get<long>();
        run.checksum.sum = line.at("sum").get<std::uint64_t>();
        run.checksum.count = line.at("count").get<std::uint64_t>();
        run.ok = line.at("ok").get<bool>();
        run.problem = line.at("problem").get<std::string>();
    } catch (const std::exception& error) {
        run.ok = false;
        run.problem = fmt::format("memory child for {} gave no result ({}): {}", system, error.what(), text);
    }
    return run;
}

}  // namespace bench
