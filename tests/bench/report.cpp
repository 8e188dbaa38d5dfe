#include "report.hpp"

#include <fmt/format.h>

#include <fstream>
#include <thread>

namespace bench {
namespace {

std::string ratio(const std::optional<double>& value) { return value ? fmt::format("{:.2f}x", *value) : "-"; }

std::string verdict(const Row& row) {
    if (!row.result_ok) return "WRONG RESULT";
    if (!row.target_met) return "";
    return *row.target_met ? "met" : "MISSED";
}

}  // namespace

void print_table(const std::vector<Row>& rows) {
    fmt::print("| workload | system | tasks | median ms | min..max ms | IQR ms | ns/task | vs tbb | vs loop | target | |\n");
    fmt::print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for (const Row& row : rows) {
        if (row.ms.samples == 0) {  // not a timing (peak memory): the figures are in the detail
            fmt::print("| {} | {} | {} | - | - | - | - | - | - | {} | {} |\n", row.workload, row.system, row.tasks,
                       row.target, verdict(row));
            continue;
        }
        fmt::print("| {} | {} | {} | {:.2f} | {:.2f}..{:.2f} | {:.2f} | {:.0f} | {} | {} | {} | {} |\n", row.workload,
                   row.system, row.tasks, row.ms.median, row.ms.min, row.ms.max, row.ms.q3 - row.ms.q1,
                   row.ns_per_task, ratio(row.vs_tbb), ratio(row.vs_loop), row.target, verdict(row));
    }
    bool any_detail = false;
    for (const Row& row : rows) {
        if (row.detail.empty()) continue;
        if (!any_detail) fmt::print("\n");
        any_detail = true;
        fmt::print("- {} / {}: {}\n", row.workload, row.system, row.detail);
    }
    std::fflush(stdout);
}

nlohmann::json to_json_report(const std::vector<Row>& rows, const nlohmann::json& run_info) {
    nlohmann::json report = run_info;
    auto& out = report["rows"] = nlohmann::json::array();
    for (const Row& row : rows) {
        nlohmann::json j{{"workload", row.workload},
                         {"system", row.system},
                         {"tasks", row.tasks},
                         {"median_ms", row.ms.median},
                         {"min_ms", row.ms.min},
                         {"max_ms", row.ms.max},
                         {"q1_ms", row.ms.q1},
                         {"q3_ms", row.ms.q3},
                         {"samples", row.ms.samples},
                         {"ns_per_task", row.ns_per_task},
                         {"vs_tbb", row.vs_tbb ? nlohmann::json(*row.vs_tbb) : nlohmann::json()},
                         {"vs_loop", row.vs_loop ? nlohmann::json(*row.vs_loop) : nlohmann::json()},
                         {"detail", row.detail},
                         {"target", row.target},
                         {"target_met", row.target_met ? nlohmann::json(*row.target_met) : nlohmann::json()},
                         {"result_ok", row.result_ok}};
        j.update(row.extra);
        out.push_back(std::move(j));
    }
    return report;
}

std::string machine_description() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    std::string model = "unknown CPU";
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    return fmt::format("{}, {} CPUs", model, std::thread::hardware_concurrency());
}

}  // namespace bench
