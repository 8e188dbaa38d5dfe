#include "graph/task_graph.hpp"

// First: Boost's algorithms find the adaptor's functions only if they are declared before them.
#include <boost/graph/vector_as_graph.hpp>

#include <boost/graph/depth_first_search.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace jobgraph {
namespace {

// Remembers the DFS tree (each vertex's parent in it, by vertex) and the first back edge; a back
// edge closes a cycle.
template <typename Graph>
class CycleRecorder : public boost::default_dfs_visitor {
public:
    using Vertex = typename boost::graph_traits<Graph>::vertex_descriptor;
    using Edge = typename boost::graph_traits<Graph>::edge_descriptor;

    CycleRecorder(std::vector<Vertex>& tree_parent, std::optional<std::pair<Vertex, Vertex>>& back)
        : tree_parent_(&tree_parent), back_(&back) {}

    // source() and target() unqualified: the adaptor's edges are std::pairs, found by ADL.
    void tree_edge(Edge e, const Graph& g) const { (*tree_parent_)[target(e, g)] = source(e, g); }
    void back_edge(Edge e, const Graph& g) const {
        if (!*back_) *back_ = std::make_pair(source(e, g), target(e, g));
    }

private:
    std::vector<Vertex>* tree_parent_;
    std::optional<std::pair<Vertex, Vertex>>* back_;
};

// The cycle closed by back edge (from -> to), as the vertices to .. from, then to again.
template <typename Vertex>
std::vector<Vertex> cycle_path(const std::vector<Vertex>& tree_parent, Vertex from, Vertex to) {
    std::vector<Vertex> path{from};
    while (path.back() != to) path.push_back(tree_parent[path.back()]);
    std::reverse(path.begin(), path.end());
    path.push_back(to);
    return path;
}

// Finds a cycle anywhere in a graph; used on whole sets of new tasks, never on a running job.
template <typename Graph>
std::optional<std::vector<typename boost::graph_traits<Graph>::vertex_descriptor>> find_cycle_in(const Graph& g) {
    using Vertex = typename boost::graph_traits<Graph>::vertex_descriptor;
    std::vector<Vertex> tree_parent(boost::num_vertices(g));
    std::optional<std::pair<Vertex, Vertex>> back;
    boost::depth_first_search(g, boost::visitor(CycleRecorder<Graph>(tree_parent, back)));
    if (!back) return std::nullopt;
    return cycle_path(tree_parent, back->first, back->second);
}

// The number a decimal id spells: "0" and "17", but not "017", "+1", "1a" or beyond 32 bits.
std::optional<TaskGraph::Index> decimal_value(std::string_view id) {
    if (id.empty() || id.size() > 10 || (id.size() > 1 && id.front() == '0')) return std::nullopt;
    TaskGraph::Index value = 0;
    const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), value);
    if (error != std::errc{} || end != id.data() + id.size()) return std::nullopt;
    return value;
}

// The position of the first '-' in @p id from @p start on, or id.size(). Ids are a few
// characters long: a loop costs less than the call into memchr that find() may make.
std::size_t dash_from(std::string_view id, std::size_t start) {
    while (start < id.size() && id[start] != '-') ++start;
    return start;
}

// Whether @p id could be a generated id: decimal numbers joined by '-', as "3-0-2".
bool generated_shape(std::string_view id) {
    for (std::size_t start = 0;;) {
        const std::size_t end = dash_from(id, start);
        if (!decimal_value(id.substr(start, end - start))) return false;
        if (end == id.size()) return true;
        start = end + 1;
    }
}

bool any_dependency(const std::vector<TaskGraph::NewTask>& batch) {
    return std::any_of(batch.begin(), batch.end(), [](const auto& task) { return !task.depends_on.empty(); });
}

}  // namespace

// --- structure ---------------------------------------------------------------------------

std::optional<TaskGraph::Index> TaskGraph::find(std::string_view id) const {
    if (const auto task = find_generated(id)) return task;
    return find_explicit(id);
}

std::optional<TaskGraph::Index> TaskGraph::find_explicit(std::string_view id) const {
    if (index_of_.empty()) return std::nullopt;
    const auto it = index_of_.find(id);
    if (it == index_of_.end()) return std::nullopt;
    return it->second;
}

std::optional<TaskGraph::Index> TaskGraph::generated_child(Index parent, std::string_view position) const {
    const auto number = decimal_value(position);
    const Node& node = nodes_[parent];
    if (!number || *number >= node.child_count) return std::nullopt;
    const Index child = node.first_child + *number;
    if (!nodes_[child].generated_id) return std::nullopt;
    return child;
}

std::optional<TaskGraph::Index> TaskGraph::find_generated(std::string_view id) const {
    // "3-0-2": root 3, its child 0, that one's child 2; each step must have a generated id.
    std::size_t end = dash_from(id, 0);
    const auto root = decimal_value(id.substr(0, end));
    if (!root || *root >= size() || nodes_[*root].parent != no_parent || !nodes_[*root].generated_id) {
        return std::nullopt;
    }
    std::optional<Index> task = *root;
    while (task && end < id.size()) {
        const std::size_t start = end + 1;
        end = dash_from(id, start);
        task = generated_child(*task, id.substr(start, end - start));
    }
    return task;
}

std::optional<TaskGraph::Index> TaskGraph::find_generated(std::string_view id,
                                                          std::optional<SpelledTask>& last_parent) const {
    const std::size_t dash = id.rfind('-');
    if (dash == std::string_view::npos) return find_generated(id);
    const std::string_view parent_id = id.substr(0, dash);
    if (!last_parent || last_parent->id != parent_id) last_parent = SpelledTask{parent_id, find_generated(parent_id)};
    if (!last_parent->task) return std::nullopt;
    return generated_child(*last_parent->task, id.substr(dash + 1));
}

std::string TaskGraph::id(Index task) const {
    if (!nodes_[task].generated_id) return explicit_ids_[nodes_[task].explicit_id];
    std::vector<Index> positions;  // from the task up to its root
    for (; nodes_[task].parent != no_parent; task = nodes_[task].parent) {
        positions.push_back(position_among_siblings(task));
    }
    std::string spelled = std::to_string(task);
    for (auto it = positions.rbegin(); it != positions.rend(); ++it)
        fmt::format_to(std::back_inserter(spelled), "-{}", *it);
    return spelled;
}

TaskGraph::Claim TaskGraph::claim_id(std::string_view id, Index parent, Index position,
                                     std::string_view parent_generated_id) {
    const auto index = static_cast<Index>(size());
    const bool generated = [&] {
        if (parent == no_parent) return position == index && decimal_value(id) == index;
        if (parent_generated_id.empty()) return false;  // an explicit parent's children are explicit
        const std::size_t dash = id.rfind('-');
        return dash != std::string_view::npos && id.substr(0, dash) == parent_generated_id &&
               decimal_value(id.substr(dash + 1)) == position;
    }();
    if (generated) {
        // Another generated id is never the same string; an explicit one may be.
        if (generated_shaped_keys_ > 0 && index_of_.contains(id)) return Claim::taken;
        return Claim::generated;
    }
    const bool shaped = generated_shape(id);
    if (shaped && find_generated(id)) return Claim::taken;
    // One hash operation: the insert itself tells whether the id was taken.
    const std::string& stored = explicit_ids_.emplace_back(id);
    if (!index_of_.try_emplace(stored, index).second) {
        explicit_ids_.pop_back();
        return Claim::taken;
    }
    if (shaped) ++generated_shaped_keys_;
    return Claim::explicit_id;
}

std::optional<TaskGraph::Index> TaskGraph::parent(Index task) const {
    const Index p = nodes_[task].parent;
    if (p == no_parent) return std::nullopt;
    return p;
}

bool TaskGraph::is_ancestor(Index ancestor, Index task) const {
    for (Index p = nodes_[task].parent; p != no_parent; p = nodes_[p].parent) {
        if (p == ancestor) return true;
    }
    return false;
}

std::optional<TaskGraph::Index> TaskGraph::try_add_node(std::string_view id, Index parent, Index position, int depth,
                                                        std::string_view parent_generated_id) {
    const auto index = static_cast<Index>(size());
    const Claim claim = claim_id(id, parent, position, parent_generated_id);
    if (claim == Claim::taken) return std::nullopt;
    Node node;
    node.parent = parent;
    node.depth = depth;
    node.generated_id = claim == Claim::generated;
    if (claim == Claim::explicit_id) node.explicit_id = static_cast<std::uint32_t>(explicit_ids_.size() - 1);
    nodes_.push_back(node);
    waiters_.emplace_back();
    join_runs_.emplace_back();
    ++unsettled_;
    return index;
}

void TaskGraph::remove_newest(std::size_t count) {
    // Claims append, so the newest task's explicit id, if it has one, is the newest one kept.
    for (; count > 0; --count) {
        if (!nodes_.back().generated_id) {
            const std::string& id = explicit_ids_.back();
            index_of_.erase(id);
            if (generated_shape(id)) --generated_shaped_keys_;
            explicit_ids_.pop_back();
        }
        nodes_.pop_back();
        waiters_.pop_back();
        join_runs_.pop_back();
        --unsettled_;
    }
}

void TaskGraph::record_join(Index waiter, Index target) {
    // A task's joins are one run of joins_; they are added together, so the run is normally at
    // the end already. If not, it moves there (the old run is left unused).
    JoinRun& run = join_runs_[waiter];
    if (run.count > 0 && run.first + run.count != joins_.size()) {
        const std::vector<Index> moved(joins_.begin() + run.first, joins_.begin() + run.first + run.count);
        run.first = static_cast<std::uint32_t>(joins_.size());
        joins_.insert(joins_.end(), moved.begin(), moved.end());
    }
    if (run.count == 0) run.first = static_cast<std::uint32_t>(joins_.size());
    joins_.push_back(target);
    ++run.count;
}

void TaskGraph::add_wait(Index waiter, Index target, Wait kind) {
    waiters_[target].push_back(waiter);
    ++wait_count_;
    if (kind == Wait::join) record_join(waiter, target);
    if (kind == Wait::child) {
        ++nodes_[waiter].children_unsettled;
    } else if (!is_settled(target)) {
        ++nodes_[waiter].waits_left;
    }
}

template <typename Visit>
void TaskGraph::for_each_wait_target(Index task, Visit&& visit) const {
    const Node& node = nodes_[task];
    const JoinRun run = join_runs_[task];
    for (std::uint32_t i = 0; i < run.count; ++i) visit(joins_[run.first + i]);
    if (node.waits_in_order) visit(task - 1);
    for (std::uint32_t i = 0; i < node.child_count; ++i) visit(node.first_child + i);
}

TaskGraph::Index TaskGraph::position_among_siblings(Index child) const {
    return child - nodes_[nodes_[child].parent].first_child;
}

bool TaskGraph::is_order_wait(Index waiter, Index target) const {
    return nodes_[waiter].waits_in_order && target + 1 == waiter;
}

TaskGraph::Wait TaskGraph::kind_of(Index target, Index waiter) const {
    // A task never depends on its own child, and an order wait never doubles a join.
    if (nodes_[target].parent == waiter) return Wait::child;
    if (is_order_wait(waiter, target)) return Wait::order;
    return Wait::join;
}

void TaskGraph::add_dependency(Index waiter, Index target) {
    if (nodes_[target].parent == waiter) {  // would read back as a child wait (kind_of)
        throw std::invalid_argument(fmt::format("Task {} cannot depend on its own child {}", id(waiter), id(target)));
    }
    if (is_order_wait(waiter, target)) {
        nodes_[waiter].waits_in_order = false;  // its order wait's edge becomes this join, the stronger wait
        record_join(waiter, target);
        return;
    }
    add_wait(waiter, target, Wait::join);
}

void TaskGraph::add_sequence(Index waiter, Index previous) {
    if (previous + 1 != waiter) {
        throw std::invalid_argument(
            fmt::format("Task {} cannot wait in order for task {}: not the one before it", id(waiter), id(previous)));
    }
    // A join on the previous task already asks more than an order wait would.
    if (std::find(waiters_[previous].begin(), waiters_[previous].end(), waiter) != waiters_[previous].end()) return;
    nodes_[waiter].waits_in_order = true;
    add_wait(waiter, previous, Wait::order);
}

void TaskGraph::reserve(std::size_t tasks, std::size_t joins) {
    nodes_.reserve(tasks);
    waiters_.reserve(tasks);
    join_runs_.reserve(tasks);
    joins_.reserve(joins);
}

std::optional<TaskGraph::Index> TaskGraph::add_root(std::string_view id) {
    return try_add_node(id, no_parent, static_cast<Index>(size()), 0, {});
}

void TaskGraph::add_roots(const std::vector<NewTask>& roots, bool sequential) {
    std::vector<std::optional<Index>> added;
    added.reserve(roots.size());
    for (const auto& root : roots) added.push_back(add_root(root.id));
    std::optional<Index> previous;
    for (std::size_t i = 0; i < roots.size(); ++i) {
        if (!added[i]) continue;
        for (const auto& dep : roots[i].depends_on) {
            if (const auto target = find(dep)) add_dependency(*added[i], *target);
        }
        if (sequential && previous) add_sequence(*added[i], *previous);
        previous = added[i];
    }
}

std::optional<std::string> TaskGraph::find_any_cycle() const {
    // The search follows edges from a task to its waiters; reversed, the path reads as waits.
    const auto path = find_cycle_in(waiters_);
    if (!path) return std::nullopt;
    return format_path(std::vector<Index>(path->rbegin(), path->rend()));
}

std::vector<std::string> TaskGraph::duplicate_ids(const std::vector<NewTask>& batch) const {
    return duplicate_ids(batch, std::nullopt);
}

std::vector<std::string> TaskGraph::duplicate_ids(const std::vector<NewTask>& batch, Index parent,
                                                  std::string_view parent_id) const {
    assert(parent_id == id(parent));
    // Ids are unique, so an explicit parent's id spells no generated task.
    const auto spelled = nodes_[parent].generated_id ? std::optional<Index>(parent) : std::nullopt;
    return duplicate_ids(batch, SpelledTask{parent_id, spelled});
}

std::vector<std::string> TaskGraph::duplicate_ids(const std::vector<NewTask>& batch,
                                                  std::optional<SpelledTask> last_parent) const {
    // last_parent: siblings' generated ids walk their parent's part once, or never if it is known.
    std::vector<std::string> duplicates;
    std::unordered_set<std::string_view> seen;
    const bool small = batch.size() <= 8;  // compare a few ids directly rather than hash them
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& task = batch[i];
        const bool seen_before = small ? std::any_of(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i),
                                                     [&](const NewTask& other) { return other.id == task.id; })
                                       : !seen.insert(task.id).second;
        const bool repeated = seen_before || find_generated(task.id, last_parent) || find_explicit(task.id);
        if (repeated && std::find(duplicates.begin(), duplicates.end(), task.id) == duplicates.end()) {
            duplicates.push_back(task.id);
        }
    }
    return duplicates;
}

std::vector<std::pair<std::string, std::string>> TaskGraph::missing_dependencies(
    const std::vector<NewTask>& batch) const {
    if (!any_dependency(batch)) return {};
    std::unordered_set<std::string_view> siblings;
    for (const auto& task : batch) siblings.insert(task.id);
    std::vector<std::pair<std::string, std::string>> missing;
    for (const auto& task : batch) {
        for (const auto& dep : task.depends_on) {
            if (!siblings.contains(dep) && !find(dep)) missing.emplace_back(task.id, dep);
        }
    }
    return missing;
}

std::optional<std::string> TaskGraph::cycle_through_batch(Index parent, const std::vector<NewTask>& batch) const {
    // Without dependencies the only new edges are the parent's waits for its new children.
    last_walk_ = 0;
    if (!any_dependency(batch)) return std::nullopt;
    // 1. A cycle among the siblings alone.
    std::unordered_map<std::string_view, std::size_t> position;
    for (std::size_t i = 0; i < batch.size(); ++i) position.emplace(batch[i].id, i);
    std::vector<std::vector<std::size_t>> siblings(batch.size());  // child -> the siblings it waits for
    bool any_sibling_edge = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        for (const auto& dep : batch[i].depends_on) {
            if (const auto it = position.find(dep); it != position.end()) {
                siblings[i].push_back(it->second);
                any_sibling_edge = true;
            }
        }
    }
    if (any_sibling_edge) {
        if (const auto path = find_cycle_in(siblings)) {
            std::vector<std::string_view> names;
            for (const auto v : *path) names.push_back(batch[v].id);
            return fmt::format("{}", fmt::join(names, " -> "));
        }
    }

    // 2. A cycle through the existing graph. The parent will wait for every child, so a child
    // that waits for an existing task D closes a cycle exactly when D already waits, directly or
    // not, for the parent. Walk from each such D along what it waits for until the parent turns
    // up. Settled tasks are left out: one may have ended early with waits still unmet (aborted,
    // planned), but it has released its waiters already, so no wait through it still blocks.
    std::unordered_map<Index, Index> waiter_of;  // the walks' trees: task -> the task waiting for it
    for (const auto& child : batch) {
        for (const auto& dep : child.depends_on) {
            if (position.contains(dep)) continue;
            const Index target = *find(dep);
            if (target == parent || is_ancestor(target, parent) || is_settled(target)) continue;
            if (!waiter_of.try_emplace(target, target).second) continue;  // walked: no way to the parent
            std::vector<Index> to_visit{target};
            bool found = false;
            while (!to_visit.empty() && !found) {
                const Index task = to_visit.back();
                to_visit.pop_back();
                ++last_walk_;
                for_each_wait_target(task, [&](Index next) {
                    if (found || is_settled(next) || !waiter_of.try_emplace(next, task).second) return;
                    found = next == parent;
                    to_visit.push_back(next);
                });
            }
            if (!found) continue;
            std::vector<Index> path{parent};  // parent, the task waiting for it, ..., D
            while (path.back() != target) path.push_back(waiter_of.at(path.back()));
            std::reverse(path.begin(), path.end());
            return fmt::format("{} -> {} -> {}", child.id, format_path(path), child.id);
        }
    }
    return std::nullopt;
}

TaskGraph::Index TaskGraph::add_children(Index parent, const std::vector<NewTask>& batch, Changes& changes) {
    return add_children(parent, id(parent), batch, changes);
}

TaskGraph::Index TaskGraph::add_children(Index parent, std::string_view parent_id, const std::vector<NewTask>& batch,
                                         Changes& changes) {
    assert(parent_id == id(parent));
    const auto first = static_cast<Index>(size());
    const int depth = nodes_[parent].depth + 1;
    if (nodes_[parent].child_count > 0) {
        throw std::invalid_argument(fmt::format("Task {} has added its children already", id(parent)));
    }
    const std::string_view parent_generated_id = nodes_[parent].generated_id ? parent_id : std::string_view{};
    // The children claimed so far count as the parent's already, so that an explicit id that
    // repeats an earlier sibling's generated one is found taken.
    nodes_[parent].first_child = first;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!try_add_node(batch[i].id, parent, static_cast<Index>(i), depth, parent_generated_id)) {
            remove_newest(i);  // a refused batch leaves nothing behind
            nodes_[parent].first_child = 0;
            nodes_[parent].child_count = 0;
            throw std::invalid_argument(fmt::format("Task id {} is taken already", batch[i].id));
        }
        nodes_[parent].child_count = static_cast<std::uint32_t>(i + 1);
    }

    // On the stack for the usual small batch: this runs under the orchestrator's lock.
    boost::container::small_vector<std::optional<Index>, 8> failed_dependency(batch.size());
    std::optional<std::pair<Index, Index>> last_failure;  // (target, failure_in(target)): siblings often share
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Index child = first + static_cast<Index>(i);
        add_wait(parent, child, Wait::child);
        for (const auto& dep : batch[i].depends_on) {
            const Index target = *find(dep);
            if (target == parent || is_ancestor(target, child)) continue;  // met already: no wait
            add_wait(child, target, Wait::join);
            if (!is_settled(target)) continue;
            const Health health = nodes_[target].subtree;
            if (health == Health::failed && !failed_dependency[i]) {
                if (!last_failure || last_failure->first != target) last_failure.emplace(target, failure_in(target));
                failed_dependency[i] = last_failure->second;
            }
            if (health == Health::planned) nodes_[child].inherited = Health::planned;
        }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Index child = first + static_cast<Index>(i);
        if (nodes_[child].phase != Phase::waiting) continue;  // a sibling's end decided it already
        if (batch[i].planned) {
            end_unstarted(child, Health::planned);
            changes.planned.push_back(child);
        } else if (failed_dependency[i]) {
            end_unstarted(child, Health::failed);
            changes.aborted.emplace_back(child, *failed_dependency[i]);
        } else if (nodes_[child].waits_left == 0) {
            on_waits_met(child, changes);
        }
    }
    settle(changes);
    return first;
}

std::vector<std::tuple<TaskGraph::Index, TaskGraph::Index, TaskGraph::Wait>> TaskGraph::edges() const {
    std::vector<std::tuple<Index, Index, Wait>> all;
    all.reserve(wait_count_);
    for (Index target = 0; target < size(); ++target) {
        for (const Index waiter : waiters_[target]) all.emplace_back(waiter, target, kind_of(target, waiter));
    }
    return all;
}

std::string TaskGraph::format_path(const std::vector<Index>& path) const {
    std::vector<std::string> names;
    names.reserve(path.size());
    for (const Index v : path) names.push_back(id(v));
    return fmt::format("{}", fmt::join(names, " -> "));
}

// --- readiness ---------------------------------------------------------------------------

TaskGraph::Health TaskGraph::health_of(Outcome outcome) noexcept {
    switch (outcome) {
        case Outcome::succeeded:
            return Health::ok;
        case Outcome::planned:
            return Health::planned;
        case Outcome::failed:
        case Outcome::aborted:
            break;
    }
    return Health::failed;
}

void TaskGraph::start(Changes& changes) {
    for (Index v = 0; v < size(); ++v) {
        Node& node = nodes_[v];
        if (node.phase == Phase::waiting && node.waits_left == 0) {
            node.phase = Phase::ready;
            changes.ready.push_back(v);
        }
    }
}

void TaskGraph::mark_started(Index task) {
    nodes_[task].phase = Phase::running;
}

void TaskGraph::finish(Index task, Outcome outcome, Changes& changes) {
    Node& node = nodes_[task];
    node.phase = Phase::finished;
    node.subtree = std::max(node.subtree, health_of(outcome));
    node.failed_itself = health_of(outcome) == Health::failed;
    if (node.children_unsettled == 0) to_settle_.push_back(task);
    settle(changes);
}

std::vector<TaskGraph::Index> TaskGraph::abort_not_started(Changes& changes) {
    std::vector<Index> ended;
    for (Index v = 0; v < size(); ++v) {
        const Phase phase = nodes_[v].phase;
        if (phase == Phase::waiting || phase == Phase::ready) {
            end_unstarted(v, Health::failed);
            ended.push_back(v);
        }
    }
    settle(changes);
    return ended;
}

void TaskGraph::end_unstarted(Index task, Health health) {
    Node& node = nodes_[task];
    node.phase = Phase::finished;
    node.subtree = std::max(node.subtree, health);
    node.failed_itself = health == Health::failed;
    if (node.children_unsettled == 0) to_settle_.push_back(task);
}

TaskGraph::Index TaskGraph::failure_in(Index task) const {
    for (;;) {
        const Node& node = nodes_[task];
        if (node.failed_itself) return task;
        const Index end = node.first_child + node.child_count;
        Index child = node.first_child;
        while (child < end && nodes_[child].subtree != Health::failed) ++child;
        if (child == end) return task;  // not reached: a failed subtree holds a failed task
        task = child;
    }
}

void TaskGraph::on_waits_met(Index task, Changes& changes) {
    if (nodes_[task].inherited == Health::planned) {
        end_unstarted(task, Health::planned);
        changes.planned.push_back(task);
    } else {
        nodes_[task].phase = Phase::ready;
        changes.ready.push_back(task);
    }
}

void TaskGraph::release_waiter(Index waiter, Wait kind, Health target_health, Index failure, Changes& changes) {
    Node& node = nodes_[waiter];
    if (kind == Wait::child) {
        node.subtree = std::max(node.subtree, target_health);
        if (--node.children_unsettled == 0 && node.phase == Phase::finished) to_settle_.push_back(waiter);
        return;
    }
    if (node.phase != Phase::waiting) return;  // ended early; its other waits no longer matter
    if (kind == Wait::join && target_health == Health::failed) {
        end_unstarted(waiter, Health::failed);
        changes.aborted.emplace_back(waiter, failure);
        return;
    }
    if (kind == Wait::join && target_health == Health::planned) node.inherited = Health::planned;
    if (--node.waits_left == 0) on_waits_met(waiter, changes);
}

void TaskGraph::settle(Changes& changes) {
    // A worklist, not recursion: chains of a million tasks settle in one go.
    while (!to_settle_.empty()) {
        const Index task = to_settle_.back();
        to_settle_.pop_back();
        nodes_[task].phase = Phase::settled;
        --unsettled_;
        const Health health = nodes_[task].subtree;
        std::optional<Index> failure;  // found once, at the first join waiter
        for (const Index waiter : waiters_[task]) {
            const Wait kind = kind_of(task, waiter);
            if (kind == Wait::join && health == Health::failed && !failure) failure = failure_in(task);
            release_waiter(waiter, kind, health, failure.value_or(task), changes);
        }
    }
}

}  // namespace jobgraph
