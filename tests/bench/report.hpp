#pragma once
// The results table: one row per workload and system, printed as Markdown and saved as JSON.

#include "timing.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct Row {
    std::string workload;
    std::string system;
    std::uint64_t tasks = 0;
    Summary ms;                     // the timed quantity, in milliseconds
    double ns_per_task = 0.0;       // median / tasks
    std::optional<double> vs_tbb;   // median / oneTBB's median in the same run
    std::optional<double> vs_loop;  // median / the loop's median in the same run
    std::string detail;             // workload-specific figures, one line
    std::string target;             // the target, for jobgraph rows
    std::optional<bool> target_met;
    bool result_ok = true;          // computed the expected result
    nlohmann::json extra = nlohmann::json::object();
};

/// Prints the rows as a Markdown table, with the details underneath.
void print_table(const std::vector<Row>& rows);
/// The rows and the run's circumstances as JSON.
nlohmann::json to_json_report(const std::vector<Row>& rows, const nlohmann::json& run_info);

/// "AMD EPYC ..., 2 CPUs" from /proc/cpuinfo.
std::string machine_description();

}  // namespace bench
