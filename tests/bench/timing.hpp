#pragma once
// Wall-clock timing and the statistics the report prints: medians and spreads of repeated runs.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace bench {

/// Measures elapsed wall time from construction (or the last restart).
class Stopwatch {
public:
    Stopwatch() : start_(std::chrono::steady_clock::now()) {}
    void restart() { start_ = std::chrono::steady_clock::now(); }
    double elapsed_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::chrono::steady_clock::time_point start_;
};

/// Median and spread of a set of samples.
struct Summary {
    double median = 0.0;
    double min = 0.0;
    double max = 0.0;
    double q1 = 0.0;  // 25th percentile
    double q3 = 0.0;  // 75th percentile
    std::size_t samples = 0;
};

/// Linear interpolation between order statistics, as most tools do it.
inline double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0.0;
    const double rank = p * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(rank);
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

inline Summary summarize(std::vector<double> samples) {
    Summary s;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    s.samples = samples.size();
    s.min = samples.front();
    s.max = samples.back();
    s.median = percentile(samples, 0.5);
    s.q1 = percentile(samples, 0.25);
    s.q3 = percentile(samples, 0.75);
    return s;
}

}  // namespace bench
