#pragma once
/// @file task_graph.hpp
/// @brief The job's structure on Boost.Graph: tasks, the waits between them, readiness and
/// incremental cycle checking (docs/semantics.md).
///
/// A wait "u waits for v to settle" is stored as the edge v -> u: a task's out-edges are the
/// tasks its settling releases, which is the walk the hot path makes. The edges are one small
/// vector of waiters per task, which Boost.Graph's algorithms read through its vector_as_graph
/// adaptor. Three kinds exist: a declared dependency (join: u may start once v and all of v's
/// descendants succeeded), a sequential-mode order (u may start once v settled, whatever its
/// outcome) and a child edge (parent u settles only after child v settled). The kind is not
/// stored on the edge: a child edge runs from a task to its parent, and an order wait is a flag
/// of its waiter. A dependency on one's own ancestor adds no edge. The graph is a DAG at all
/// times; batches that would close a cycle are refused before anything is added.
/// Not thread-safe: the orchestrator guards it with its lock.

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace jobgraph {

/// @brief Structure and readiness of a job's tasks.
class TaskGraph {
public:
    using Index = std::uint32_t;

    enum class Wait : std::uint8_t { join, order, child };
    /// @brief How a task ended, as far as its waiters care.
    enum class Outcome : std::uint8_t { succeeded, failed, aborted, planned };

    /// @brief One task of a batch to add: its id and the ids it depends on.
    struct NewTask {
        std::string id;
        std::vector<std::string> depends_on;
        bool planned = false;  ///< plan mode: added as planned, never runs
    };

    /// @brief Tasks whose state moved on because of a change; the caller acts on them.
    struct Changes {
        std::vector<Index> ready;    ///< every wait is met: may start now
        std::vector<Index> planned;  ///< cannot run before approval
        /// Cannot run: a dependency or one of its descendants failed or was aborted. The cause
        /// is the task that did: the dependency itself, or else, depth first, the first child
        /// (in batch order) whose subtree failed, and so on down to the task that failed.
        std::vector<std::pair<Index, Index>> aborted;  ///< (task, cause)

        bool empty() const noexcept { return ready.empty() && planned.empty() && aborted.empty(); }
        void clear() noexcept {
            ready.clear();
            planned.clear();
            aborted.clear();
        }
    };

    TaskGraph() = default;
    // index_of_ views the strings in explicit_ids_: moving keeps them valid, copying would not.
    TaskGraph(TaskGraph&&) = default;
    TaskGraph& operator=(TaskGraph&&) = default;
    TaskGraph(const TaskGraph&) = delete;
    TaskGraph& operator=(const TaskGraph&) = delete;

    // --- structure -----------------------------------------------------------------------

    /// @brief Number of tasks.
    std::size_t size() const noexcept { return nodes_.size(); }
    /// @brief The index of the task with this id.
    std::optional<Index> find(std::string_view id) const;
    /// @brief The task's id; a generated one is spelled out from the tree (see explicit_ids_).
    std::string id(Index task) const;
    /// @brief The parent's index; nullopt for a root.
    std::optional<Index> parent(Index task) const;
    int depth(Index task) const { return nodes_[task].depth; }
    /// @brief True when @p ancestor is the parent of @p task, or its parent's parent, and so on.
    bool is_ancestor(Index ancestor, Index task) const;

    /// @brief Makes room for @p tasks tasks and @p joins declared dependencies in all.
    void reserve(std::size_t tasks, std::size_t joins = 0);
    /// @brief Number of edges (waits) of every kind.
    std::size_t wait_count() const noexcept { return wait_count_; }
    /// @brief Adds an initial task; nullopt (and nothing added) if the id is taken.
    std::optional<Index> add_root(std::string_view id);
    /// @brief Initial task @p waiter depends on @p target (a join wait). A task cannot depend
    /// on its own child (std::invalid_argument): that edge would read as a child wait.
    void add_dependency(Index waiter, Index target);
    /// @brief Sequential mode: root @p waiter waits for @p previous, the root added just before
    /// it, to settle. A join on @p previous, declared before or after, makes this wait redundant.
    void add_sequence(Index waiter, Index previous);
    /// @brief Adds the initial tasks with the three calls above. Unknown dependencies and
    /// repeated ids are skipped; in sequential mode each root waits for the one before it.
    void add_roots(const std::vector<NewTask>& roots, bool sequential);

    /// @brief A cycle among all tasks as ids "a -> b -> a", or nullopt. O(V + E).
    std::optional<std::string> find_any_cycle() const;

    /// @brief Ids in @p batch that repeat within it or name an existing task, in batch order.
    std::vector<std::string> duplicate_ids(const std::vector<NewTask>& batch) const;
    /// @brief The same for a batch that @p parent spawns, whose id the caller holds:
    /// @p parent_id must be id(parent). Ids "<parent_id>-<n>" are then matched against it
    /// instead of walking the tree from the root, which for a deep task is a step per level.
    std::vector<std::string> duplicate_ids(const std::vector<NewTask>& batch, Index parent,
                                           std::string_view parent_id) const;
    /// @brief (child id, dependency) pairs naming neither an existing task nor a sibling.
    std::vector<std::pair<std::string, std::string>> missing_dependencies(const std::vector<NewTask>& batch) const;
    /// @brief The cycle that adding @p batch under @p parent would close, as "a -> b -> a", or
    /// nullopt. Costs what the batch's new edges can reach among unsettled tasks: a walk from
    /// each dependency along what it waits for, never a walk of the whole graph. Requires unique
    /// ids and known dependencies.
    std::optional<std::string> cycle_through_batch(Index parent, const std::vector<NewTask>& batch) const;
    /// @brief How many tasks the last cycle_through_batch walked through: the cost it promises.
    std::size_t last_cycle_walk() const noexcept { return last_walk_; }
    /// @brief Adds a checked batch as children of a running @p parent and reports which of the
    /// new tasks are ready, aborted or planned already. Returns the first new index. A task adds
    /// one batch; a second one, or an id taken already (or repeated in the batch), throws
    /// std::invalid_argument and adds none of the batch.
    Index add_children(Index parent, const std::vector<NewTask>& batch, Changes& changes);
    /// @brief The same, with the parent's id at hand (@p parent_id must be id(parent)); the other
    /// overload spells it from the tree. Children's generated ids are recognised against it.
    Index add_children(Index parent, std::string_view parent_id, const std::vector<NewTask>& batch, Changes& changes);

    // --- readiness -----------------------------------------------------------------------

    /// @brief The initial readiness after add_roots: every root with no waits is ready.
    void start(Changes& changes);
    /// @brief A ready task's handler was called.
    void mark_started(Index task);
    /// @brief A task ended (a started one, or a waiting one the caller planned or aborted).
    /// Settles what can settle and reports the waiters that moved on.
    void finish(Index task, Outcome outcome, Changes& changes);
    /// @brief Ends every task not started yet (waiting or ready) as aborted, settles what that
    /// settles, and returns those tasks in index order. For a job that stops early.
    std::vector<Index> abort_not_started(Changes& changes);
    /// @brief True once the task and all its descendants ended.
    bool is_settled(Index task) const { return nodes_[task].phase == Phase::settled; }
    /// @brief Number of tasks not settled yet.
    std::size_t unsettled() const noexcept { return unsettled_; }

    /// @brief The edges u -> v ("u waits for v") with their kind, for export and tests.
    std::vector<std::tuple<Index, Index, Wait>> edges() const;

private:
    enum class Phase : std::uint8_t { waiting, ready, running, finished, settled };
    enum class Health : std::uint8_t { ok, planned, failed };

    static constexpr Index no_parent = UINT32_MAX;

    struct Node {
        Index parent = no_parent;
        int depth = 0;
        std::uint32_t waits_left = 0;          // unmet waits before it may start
        std::uint32_t children_unsettled = 0;  // it settles when this is 0 and it finished
        Index first_child = 0;                 // its batch of children, added together, is
        std::uint32_t child_count = 0;         // first_child .. first_child + child_count - 1
        std::uint32_t explicit_id = 0;         // its slot in explicit_ids_ unless generated_id
        Phase phase = Phase::waiting;
        Health inherited = Health::ok;    // worst health among its settled join targets
        Health subtree = Health::ok;      // its own and its settled children's, worst first
        bool generated_id : 1 = false;    // its id is the one the orchestrator gives
        bool waits_in_order : 1 = false;  // its wait on the task before it is an order wait
        bool failed_itself : 1 = false;   // it failed or was aborted, not (only) its children
    };
    static_assert(sizeof(Node) == 32, "settling reads nodes at random: keep them small");

    // The tasks that wait for a task, in the order their waits were added. Most tasks release
    // exactly one (the next link of a chain, a child's parent), and that one is kept inline: no
    // heap block per task or per wait. (adjacency_list cost more: bidirectionalS keeps an edge
    // list and in-edges, directedS allocates each edge's property even when it has none.)
    using Waiters = boost::container::small_vector<Index, 1>;

    enum class Claim : std::uint8_t { taken, generated, explicit_id };
    // Keeps a copy of an explicit id. @p parent_generated_id: the parent's id if it is generated,
    // empty for a root or an explicit parent (whose children's ids are never generated).
    Claim claim_id(std::string_view id, Index parent, Index position, std::string_view parent_generated_id);
    std::optional<Index> find_generated(std::string_view id) const;
    std::optional<Index> find_explicit(std::string_view id) const;
    // The child at @p position ("2") of @p parent, if that child's id is generated.
    std::optional<Index> generated_child(Index parent, std::string_view position) const;
    // A task and the id that spells it, or nullopt if none does.
    struct SpelledTask {
        std::string_view id;
        std::optional<Index> task;
    };
    // Same, walking the part before the last '-' only when it differs from @p last_parent's.
    std::optional<Index> find_generated(std::string_view id, std::optional<SpelledTask>& last_parent) const;
    std::vector<std::string> duplicate_ids(const std::vector<NewTask>& batch,
                                           std::optional<SpelledTask> last_parent) const;
    std::optional<Index> try_add_node(std::string_view id, Index parent, Index position, int depth,
                                      std::string_view parent_generated_id);  // nullopt: taken
    // Undoes the last @p count try_add_node calls.
    void remove_newest(std::size_t count);
    void add_wait(Index waiter, Index target, Wait kind);
    Index position_among_siblings(Index child) const;  // "2" in "3-0-2"
    bool is_order_wait(Index waiter, Index target) const;
    Wait kind_of(Index target, Index waiter) const;
    void record_join(Index waiter, Index target);  // for the cycle check; adds no wait
    // Calls visit(t) for each task t that @p task waits for: its joins, its order wait, its children.
    template <typename Visit>
    void for_each_wait_target(Index task, Visit&& visit) const;
    static Health health_of(Outcome outcome) noexcept;
    void end_unstarted(Index task, Health health);
    void on_waits_met(Index task, Changes& changes);
    // @p failure: the task to name if @p waiter is aborted (see failure_in).
    void release_waiter(Index waiter, Wait kind, Health target_health, Index failure, Changes& changes);
    // The task that failed or was aborted in settled @p task's failed subtree: the task itself
    // if it did, or else, depth first, the first child (in batch order) whose subtree failed.
    Index failure_in(Index task) const;
    void settle(Changes& changes);
    std::string format_path(const std::vector<Index>& path) const;

    std::vector<Node> nodes_;       // by index
    std::vector<Waiters> waiters_;  // by index: the tasks waiting for it
    // The tasks each task joins, one run per task, read only by the spawned-batch cycle check;
    // kept out of Node, which settling reads at random and which stays smaller without them.
    struct JoinRun {
        std::uint32_t first = 0;
        std::uint32_t count = 0;
    };
    std::vector<JoinRun> join_runs_;  // by index
    std::vector<Index> joins_;
    std::vector<Index> to_settle_;  // settle()'s worklist, kept to spare an allocation per call
    // Explicit ids only, by slot; a deque so that the strings never move and index_of_ can view
    // them. Generated ids (a root's position "3", a child's "<parent id>-<position>" such as
    // "3-0-2") are not stored at all: find() walks them down the tree and id() spells them out,
    // which spares large jobs a string and a hash insert per task and a look-up per dependency
    // or spawned child.
    std::deque<std::string> explicit_ids_;
    std::unordered_map<std::string_view, Index> index_of_;  // explicit id -> task
    std::size_t generated_shaped_keys_ = 0;                 // keys of index_of_ shaped like generated ids
    std::size_t unsettled_ = 0;
    std::size_t wait_count_ = 0;
    mutable std::size_t last_walk_ = 0;  // see last_cycle_walk()
};

}  // namespace jobgraph
