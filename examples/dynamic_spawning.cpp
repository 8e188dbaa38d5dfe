// Dynamic spawning: a handler looks at its data and decides at run time what follows.
//
// Each incoming order gets a validation task. A valid order spawns process -> store -> notify;
// an invalid one spawns log-error -> notify-admin. Nothing about the branches is known before
// the validator has run.
//
//   ./dynamic_spawning

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <mutex>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

std::mutex print_mutex;
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
    std::lock_guard lock(print_mutex);
    fmt::print(format, std::forward<Args>(args)...);
}

// What a validator finds wrong with an order; empty when the order may be processed.
std::vector<std::string> problems_of(const json& order) {
    std::vector<std::string> problems;
    if (order.at("customer").get<std::string>().find('@') == std::string::npos) problems.emplace_back("customer is not an e-mail address");
    if (order.at("items").get<int>() <= 0) problems.emplace_back("no items");
    if (order.at("unitPrice").get<double>() <= 0.0) problems.emplace_back("price is not positive");
    return problems;
}

jobgraph::TaskSpec step(std::string id, std::string command, json input, std::vector<std::string> after = {}) {
    return {.id = std::move(id), .service = "orders", .command = std::move(command), .input = std::move(input),
            .depends_on = std::move(after)};
}

}  // namespace

int main() {
    // The store: orders that made it through, shared by every "store" task.
    std::mutex ledger_mutex;
    std::vector<std::string> ledger;

    jobgraph::HandlerRegistry registry;
    registry.add("orders", "validate", [](jobgraph::TaskContext& ctx) {
        const json& order = ctx.input();
        const auto number = order.at("number").get<int>();
        const auto problems = problems_of(order);
        const std::string prefix = fmt::format("order-{}", number);
        // The decision: which tasks exist depends on the data.
        if (problems.empty()) {
            ctx.spawn(step(prefix + "-process", "process", order));
            ctx.spawn(step(prefix + "-store", "store", order, {prefix + "-process"}));
            ctx.spawn(step(prefix + "-notify", "notify", order, {prefix + "-store"}));
        } else {
            ctx.spawn(step(prefix + "-log-error", "log-error", {{"number", number}, {"problems", problems}}));
            ctx.spawn(step(prefix + "-notify-admin", "notify-admin", {{"number", number}}, {prefix + "-log-error"}));
        }
        return json{{"valid", problems.empty()}, {"problems", problems}};
    });
    registry.add("orders", "process", [](jobgraph::TaskContext& ctx) {
        const json& order = ctx.input();
        const double total = order.at("items").get<int>() * order.at("unitPrice").get<double>();
        say("  order {}: charged {:.2f} EUR for {} items\n", order.at("number").get<int>(), total, order.at("items").get<int>());
        return json{{"charged", total}};
    });
    registry.add("orders", "store", [&](jobgraph::TaskContext& ctx) {
        const auto number = ctx.input().at("number").get<int>();
        // The process step's output is readable because this task depends on it.
        const auto charged = ctx.output_of(fmt::format("order-{}-process", number))->at("charged").get<double>();
        std::lock_guard lock(ledger_mutex);
        ledger.push_back(fmt::format("order {} ({:.2f} EUR)", number, charged));
        return json{{"ledgerEntry", ledger.size()}};
    });
    registry.add("orders", "notify", [](jobgraph::TaskContext& ctx) {
        say("  mail to {}: your order {} is on its way\n", ctx.input().at("customer").get<std::string>(),
            ctx.input().at("number").get<int>());
        return json::object();
    });
    registry.add("orders", "log-error", [](jobgraph::TaskContext& ctx) {
        say("  order {} rejected: {}\n", ctx.input().at("number").get<int>(),
            fmt::join(ctx.input().at("problems").get<std::vector<std::string>>(), "; "));
        return json::object();
    });
    registry.add("orders", "notify-admin", [](jobgraph::TaskContext& ctx) {
        say("  page to admin@example.com: order {} needs a look\n", ctx.input().at("number").get<int>());
        return json::object();
    });

    const std::vector<json> orders{
        {{"number", 1042}, {"customer", "ada@example.com"}, {"items", 3}, {"unitPrice", 19.90}},
        {{"number", 1043}, {"customer", "not-an-address"}, {"items", 0}, {"unitPrice", 5.00}},
        {{"number", 1044}, {"customer", "grace@example.com"}, {"items", 1}, {"unitPrice", 249.00}},
    };
    jobgraph::JobSpec job{.name = "incoming-orders", .limits = {}};
    for (const auto& order : orders) {
        job.tasks.push_back(step(fmt::format("order-{}", order.at("number").get<int>()), "validate", order));
    }

    say("running {} validations; each decides what follows:\n", orders.size());
    const jobgraph::JobResult result = jobgraph::Orchestrator(registry).run(job);

    fmt::print("\njob {}: {}, {} tasks ({} spawned at run time)\n", result.name, jobgraph::to_string(result.status),
               result.stats.total, result.stats.total - orders.size());
    for (const auto& task : result.tasks) {
        fmt::print("  {:<24} {:<10} {}\n", task.id, jobgraph::to_string(task.status),
                   task.parent_id ? "spawned by " + *task.parent_id : "initial");
    }
    fmt::print("ledger: {}\n", fmt::join(ledger, ", "));
    return result.status == jobgraph::JobStatus::succeeded ? 0 : 1;
}
