// The TaskGraph on its own: waits, settling, join semantics and incremental cycle checks.
#include "helpers.hpp"
#include "graph/task_graph.hpp"

#include <algorithm>
#include <tuple>

using namespace jobgraph;
using Index = TaskGraph::Index;
using NewTask = TaskGraph::NewTask;
using Outcome = TaskGraph::Outcome;

namespace {

std::vector<std::string> names(const TaskGraph& graph, const std::vector<Index>& tasks) {
    std::vector<std::string> out;
    for (const Index t : tasks) out.push_back(graph.id(t));
    return out;
}

// Roots a and b, where b waits in order for a and then joins a too.
TaskGraph order_then_join() {
    TaskGraph graph;
    graph.add_root("a");
    graph.add_root("b");
    graph.add_sequence(1, 0);
    graph.add_dependency(1, 0);
    return graph;
}

// Starts a ready task and finishes it, returning what moved on.
TaskGraph::Changes run_task(TaskGraph& graph, std::string_view id, Outcome outcome = Outcome::succeeded) {
    TaskGraph::Changes changes;
    const Index task = *graph.find(id);
    graph.mark_started(task);
    graph.finish(task, outcome, changes);
    return changes;
}

}  // namespace

TEST_CASE("Roots with no waits are ready at once, others when their dependencies settle", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}, {"c", {"a", "b"}}, {"d", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"a", "d"});
    CHECK(names(graph, run_task(graph, "a").ready) == std::vector<std::string>{"b"});
    CHECK(names(graph, run_task(graph, "b").ready) == std::vector<std::string>{"c"});
    CHECK(graph.unsettled() == 2);
}

TEST_CASE("A dependency is met only when its children settled too (join)", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("a");
    graph.mark_started(a);
    changes.clear();
    graph.add_children(a, {{"a-0", {}}, {"a-1", {"a-0"}}}, changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"a-0"});
    changes.clear();
    graph.finish(a, Outcome::succeeded, changes);
    CHECK(changes.empty());  // a finished, but b waits for a's children
    CHECK(names(graph, run_task(graph, "a-0").ready) == std::vector<std::string>{"a-1"});
    CHECK(names(graph, run_task(graph, "a-1").ready) == std::vector<std::string>{"b"});
    CHECK(graph.is_settled(a));
}

TEST_CASE("A failed descendant aborts the waiters of its ancestor, naming the descendant", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"x", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("a");
    graph.mark_started(a);
    changes.clear();
    graph.add_children(a, {{"a-0", {}}}, changes);
    graph.finish(a, Outcome::succeeded, changes);
    changes = run_task(graph, "a-0", Outcome::failed);
    REQUIRE(changes.aborted.size() == 2);
    CHECK(graph.id(changes.aborted[0].first) == "b");
    CHECK(graph.id(changes.aborted[0].second) == "a-0");  // a succeeded: its child failed
    CHECK(graph.id(changes.aborted[1].first) == "c");
    CHECK(graph.id(changes.aborted[1].second) == "b");  // b's own abort, not a-0's failure
    CHECK(changes.ready.empty());
    CHECK(graph.unsettled() == 1);  // only x
}

TEST_CASE("Of several failed branches, the first child's is named, depth first", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"w", {"a"}}, {"p", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("a");
    graph.mark_started(a);
    graph.add_children(a, {{"a-0", {}}, {"a-1", {}}}, changes);
    graph.finish(a, Outcome::succeeded, changes);
    const Index a0 = *graph.find("a-0");
    graph.mark_started(a0);
    graph.add_children(a0, {{"a-0-0", {}}}, changes);
    graph.finish(a0, Outcome::succeeded, changes);
    // Either may end first; the name follows the tree, not the time.
    const bool deep_first = GENERATE(false, true);
    changes.clear();
    for (const auto* id : deep_first ? std::vector{"a-0-0", "a-1"} : std::vector{"a-1", "a-0-0"}) {
        const auto moved = run_task(graph, id, id == std::string_view("a-1") ? Outcome::failed : Outcome::aborted);
        changes.aborted.insert(changes.aborted.end(), moved.aborted.begin(), moved.aborted.end());
    }
    REQUIRE(changes.aborted.size() == 1);
    CHECK(graph.id(changes.aborted[0].first) == "w");
    CHECK(graph.id(changes.aborted[0].second) == "a-0-0");

    // Children spawned later with a dependency on the settled subtree name the same task.
    changes.clear();
    const Index p = *graph.find("p");
    graph.mark_started(p);
    graph.add_children(p, {{"p-0", {"a"}}, {"p-1", {"x", "a"}}, {"x", {}}}, changes);
    REQUIRE(changes.aborted.size() == 2);
    CHECK(graph.id(changes.aborted[0].first) == "p-0");
    CHECK(graph.id(changes.aborted[0].second) == "a-0-0");
    CHECK(graph.id(changes.aborted[1].first) == "p-1");
    CHECK(graph.id(changes.aborted[1].second) == "a-0-0");
}

TEST_CASE("A dependency that failed itself is named before its failed children", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"w", {"a"}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("a");
    graph.mark_started(a);
    graph.add_children(a, {{"a-0", {}}}, changes);
    graph.finish(a, Outcome::failed, changes);  // the graph allows it; JobRun adds no batch then
    changes = run_task(graph, "a-0", Outcome::failed);
    REQUIRE(changes.aborted.size() == 1);
    CHECK(graph.id(changes.aborted[0].first) == "w");
    CHECK(graph.id(changes.aborted[0].second) == "a");
}

TEST_CASE("Sequential order waits for settling, whatever the outcome", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {}}, {"c", {}}}, true);
    TaskGraph::Changes changes;
    graph.start(changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"a"});
    CHECK(names(graph, run_task(graph, "a", Outcome::failed).ready) == std::vector<std::string>{"b"});
    CHECK(names(graph, run_task(graph, "b").ready) == std::vector<std::string>{"c"});
}

TEST_CASE("Each wait reads back with its kind, and an order wait on a joined task adds nothing", "[graph]") {
    using Wait = TaskGraph::Wait;
    using Edge = std::tuple<Index, Index, Wait>;
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}, {"c", {}}}, true);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    graph.add_children(0, {{"a-0", {}}}, changes);
    auto edges = graph.edges();
    std::sort(edges.begin(), edges.end());
    // (waiter, target, kind): b joins a (its order wait on a adds nothing), c waits in order
    // for b, a waits for its child.
    CHECK(edges == std::vector<Edge>{{0, 3, Wait::child}, {1, 0, Wait::join}, {2, 1, Wait::order}});
    CHECK(graph.wait_count() == 3);

    // The same whichever is declared first: the join replaces the order wait.
    TaskGraph reversed = order_then_join();
    CHECK(reversed.edges() == std::vector<Edge>{{1, 0, Wait::join}});
    CHECK_THROWS_WITH(reversed.add_sequence(0, 1), "Task a cannot wait in order for task b: not the one before it");
}

TEST_CASE("A joined task that fails aborts its sequential successor", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}, {"c", {}}}, true);
    TaskGraph::Changes changes;
    graph.start(changes);
    changes = run_task(graph, "a", Outcome::failed);
    REQUIRE(changes.aborted.size() == 1);
    CHECK(graph.id(changes.aborted[0].first) == "b");
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"c"});  // b settled, aborted
}

TEST_CASE("A dependency on one's own ancestor adds no wait", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("a");
    graph.mark_started(a);
    changes.clear();
    const std::vector<NewTask> batch{{"a-0", {"a"}}};
    CHECK_FALSE(graph.cycle_through_batch(a, batch).has_value());
    graph.add_children(a, batch, changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"a-0"});
    const Index child = *graph.find("a-0");
    changes.clear();
    graph.mark_started(child);
    graph.add_children(child, {{"a-0-0", {"a", "a-0"}}}, changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"a-0-0"});
}

TEST_CASE("A batch closing a cycle through join waits is refused with its path", "[graph]") {
    // B depends on A; a child of A that depends on B would make A wait for itself.
    TaskGraph graph;
    graph.add_roots({{"A", {}}, {"B", {"A"}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index a = *graph.find("A");
    graph.mark_started(a);
    CHECK(graph.cycle_through_batch(a, {{"A-0", {"B"}}}) == std::optional<std::string>("A-0 -> B -> A -> A-0"));
    CHECK(graph.size() == 2);  // nothing was added
    CHECK(graph.cycle_through_batch(a, {{"A-0", {"A-1"}}, {"A-1", {"A-0"}}}) ==
          std::optional<std::string>("A-0 -> A-1 -> A-0"));
    CHECK_FALSE(graph.cycle_through_batch(a, {{"A-0", {"A-1"}}, {"A-1", {}}}).has_value());
}

TEST_CASE("Waiting on a task that depends on one's grandparent is a cycle", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"g", {}}, {"d", {"g"}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    const Index g = *graph.find("g");
    graph.mark_started(g);
    graph.add_children(g, {{"g-0", {}}}, changes);
    graph.finish(g, Outcome::succeeded, changes);
    const Index p = *graph.find("g-0");
    graph.mark_started(p);
    CHECK(graph.cycle_through_batch(p, {{"g-0-0", {"d"}}}) ==
          std::optional<std::string>("g-0-0 -> d -> g -> g-0 -> g-0-0"));
}

TEST_CASE("Cycle checks walk only what the new edges reach", "[graph]") {
    // A long settled chain plus an unsettled task: a batch depending on the chain's end has
    // nothing unsettled to walk, and a batch without dependencies walks nothing at all.
    TaskGraph graph;
    std::vector<NewTask> roots;
    for (int i = 0; i < 2000; ++i)
        roots.push_back(
            {std::to_string(i), i > 0 ? std::vector<std::string>{std::to_string(i - 1)} : std::vector<std::string>{}});
    roots.push_back({"spawner", {}});
    graph.add_roots(roots, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    for (int i = 0; i < 2000; ++i) run_task(graph, std::to_string(i));
    const Index spawner = *graph.find("spawner");
    graph.mark_started(spawner);
    CHECK_FALSE(graph.cycle_through_batch(spawner, {{"c", {"1999"}}}).has_value());
    CHECK(graph.last_cycle_walk() == 0);
    changes.clear();
    graph.add_children(spawner, {{"c", {"1999"}}}, changes);
    CHECK(names(graph, changes.ready) == std::vector<std::string>{"c"});
}

TEST_CASE("A spawn under a task many others wait for walks only what its dependency waits for", "[graph]") {
    // 1,000 sequential roots: every later root waits, through the ones before it, for root 0.
    // Root 0's child x spawns a task depending on its sibling y: y waits for nothing, so the
    // check walks y alone, not the 999 roots waiting for x's parent.
    TaskGraph graph;
    std::vector<NewTask> roots;
    for (int i = 0; i < 1000; ++i) roots.push_back({std::to_string(i), {}});
    graph.add_roots(roots, true);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    graph.add_children(0, {{"0-0", {}}, {"0-1", {}}}, changes);
    const Index x = *graph.find("0-0");
    graph.mark_started(x);
    CHECK_FALSE(graph.cycle_through_batch(x, {{"0-0-0", {"0-1"}}}).has_value());
    CHECK(graph.last_cycle_walk() == 1);

    // Root 1 waits for root 0, which waits for x: a child of x depending on root 1 closes a
    // cycle, found by walking from root 1 to what it waits for.
    CHECK(graph.cycle_through_batch(x, {{"0-0-0", {"1"}}}) ==
          std::optional<std::string>("0-0-0 -> 1 -> 0 -> 0-0 -> 0-0-0"));
    CHECK(graph.last_cycle_walk() == 2);
}

TEST_CASE("Later walks reuse what earlier ones found, and a join declared after the order wait counts", "[graph]") {
    // X waits for nothing; B waits for X and for A. A child of A depending on X, then on B:
    // the walk from X finds nothing, the walk from B skips X and reaches A.
    TaskGraph graph;
    graph.add_roots({{"A", {}}, {"X", {}}, {"B", {"X", "A"}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    CHECK(graph.cycle_through_batch(0, {{"A-0", {"X", "B"}}}) == std::optional<std::string>("A-0 -> B -> A -> A-0"));
    CHECK(graph.last_cycle_walk() == 2);
    CHECK_FALSE(graph.cycle_through_batch(0, {{"A-0", {}}}).has_value());
    CHECK(graph.last_cycle_walk() == 0);

    // b waits in order for a, and then joins it too: the join is what the walk follows.
    TaskGraph sequential = order_then_join();
    sequential.start(changes);
    sequential.mark_started(0);
    CHECK(sequential.cycle_through_batch(0, {{"a-0", {"b"}}}) == std::optional<std::string>("a-0 -> b -> a -> a-0"));
}

TEST_CASE("A task cannot depend on its own child", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    graph.add_children(0, {{"a-0", {}}}, changes);
    CHECK_THROWS_WITH(graph.add_dependency(0, 1), "Task a cannot depend on its own child a-0");
    CHECK(graph.wait_count() == 1);
}

TEST_CASE("Duplicate ids and unknown dependencies of a batch are found", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {}}}, false);
    CHECK(graph.duplicate_ids({{"x", {}}, {"a", {}}, {"x", {}}}) == std::vector<std::string>{"a", "x"});
    CHECK(graph.missing_dependencies({{"x", {"y", "b", "nope"}}, {"y", {}}}) ==
          std::vector<std::pair<std::string, std::string>>{{"x", "nope"}});
}

TEST_CASE("Aborting what has not started settles the rest", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"a", {}}, {"b", {"a"}}, {"c", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(*graph.find("a"));
    changes.clear();
    CHECK(names(graph, graph.abort_not_started(changes)) == std::vector<std::string>{"b", "c"});
    CHECK(graph.unsettled() == 1);
    CHECK(run_task(graph, "a").empty());
    CHECK(graph.unsettled() == 0);
}

TEST_CASE("Ids that spell their own index and explicit ids share one namespace", "[graph]") {
    TaskGraph graph;
    CHECK(graph.add_root("0") == Index{0});  // positional
    CHECK(graph.add_root("2") == Index{1});  // explicit, spells a later index
    CHECK(graph.add_root("2") == std::nullopt);
    CHECK(graph.add_root("0") == std::nullopt);  // taken by position
    CHECK(graph.add_root("02") == Index{2});     // not a canonical number: an ordinary id
    CHECK(graph.add_root("3") == Index{3});
    CHECK(graph.add_root("x") == Index{4});
    CHECK(graph.add_root("4294967296") == Index{5});  // beyond 32 bits: an ordinary id

    CHECK(graph.find("0") == Index{0});
    CHECK(graph.find("2") == Index{1});
    CHECK(graph.find("02") == Index{2});
    CHECK(graph.find("3") == Index{3});
    CHECK(graph.find("x") == Index{4});
    CHECK(graph.find("4294967296") == Index{5});
    CHECK(graph.find("1") == std::nullopt);
    CHECK(graph.find("5") == std::nullopt);
    CHECK(graph.find("+3") == std::nullopt);
    CHECK(graph.find("") == std::nullopt);
    CHECK(graph.size() == 6);
    CHECK(graph.id(1) == "2");
    CHECK(graph.id(2) == "02");
}

TEST_CASE("Generated child ids are found through the tree, explicit ones through the index", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"0", {}}, {"1-0", {}}, {"2", {}}}, false);  // "1-0": explicit, shaped like a child id
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    CHECK(graph.duplicate_ids({{"0-0", {}}, {"0-1", {}}}).empty());
    const Index first = graph.add_children(0, {{"0-0", {}}, {"x", {}}, {"0-7", {}}, {"0-3", {"0-0"}}}, changes);
    CHECK(first == 3);
    CHECK(graph.find("0-0") == Index{3});
    CHECK(graph.find("x") == Index{4});
    CHECK(graph.find("0-7") == Index{5});  // explicit: position 2 would be "0-2"
    CHECK(graph.find("0-3") == Index{6});
    CHECK(graph.find("0-2") == std::nullopt);
    CHECK(graph.find("0-4") == std::nullopt);
    CHECK(graph.find("0-0-0") == std::nullopt);
    CHECK(graph.find("1-0") == Index{1});
    CHECK(graph.find("2-0") == std::nullopt);
    CHECK(graph.find("3") == std::nullopt);  // index 3 is a child, not a root
    CHECK(graph.find("0--0") == std::nullopt);
    CHECK(graph.find("0-") == std::nullopt);

    // A generated id that an explicit id already has is taken, and the other way round.
    graph.mark_started(1);
    graph.mark_started(2);
    CHECK(graph.duplicate_ids({{"2-0", {}}, {"0-3", {}}, {"1-0", {}}}) == std::vector<std::string>{"0-3", "1-0"});
    graph.add_children(2, {{"2-0", {}}, {"2-1", {}}}, changes);
    CHECK(graph.find("2-1") == Index{8});
    graph.mark_started(7);
    graph.add_children(7, {{"2-0-0", {}}}, changes);
    CHECK(graph.find("2-0-0") == Index{9});
    // Generated ids are spelled from the tree, explicit ones read back as given.
    CHECK(names(graph, {0, 1, 3, 4, 5, 6, 7, 9}) ==
          std::vector<std::string>{"0", "1-0", "0-0", "x", "0-7", "0-3", "2-0", "2-0-0"});
}

TEST_CASE("Siblings' ids that share their parent's part are each checked in full", "[graph]") {
    // The duplicate check walks "0-1" once for the whole batch and the claim compares with the
    // parent's id; every sibling must still be told apart by its own last part, and an explicit
    // id must still be seen.
    TaskGraph graph;
    graph.add_roots({{"0", {}}, {"0-1-2", {}}}, false);  // "0-1-2": explicit, shaped like a grandchild
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    graph.add_children(0, {{"0-0", {}}, {"0-1", {}}}, changes);
    CHECK(graph.duplicate_ids({{"0-0", {}}, {"0-2", {}}, {"0-1", {}}}) == std::vector<std::string>{"0-0", "0-1"});
    graph.mark_started(3);
    CHECK(graph.duplicate_ids({{"0-1-0", {}}, {"0-1-1", {}}, {"0-1-2", {}}, {"0-0-0", {}}}) ==
          std::vector<std::string>{"0-1-2"});
    // "0-1-0" and "0-1-1" match the parent's id and their positions; "0-1-7", at position 2, is
    // explicit although its part matches too.
    CHECK(graph.add_children(3, {{"0-1-0", {}}, {"0-1-1", {}}, {"0-1-7", {}}, {"0-1-3x", {}}}, changes) == 4);
    CHECK(graph.find("0-1-0") == Index{4});
    CHECK(graph.find("0-1-1") == Index{5});
    CHECK(graph.find("0-1-7") == Index{6});
    CHECK(graph.find("0-1-2") == Index{1});  // the explicit root, not child 2
    CHECK(graph.find("0-1-3") == std::nullopt);
    CHECK(graph.duplicate_ids({{"0-1-0", {}}, {"0-1-1", {}}, {"0-1-3", {}}, {"0-1-7", {}}}) ==
          std::vector<std::string>{"0-1-0", "0-1-1", "0-1-7"});
    CHECK(names(graph, {4, 5, 6, 7}) == std::vector<std::string>{"0-1-0", "0-1-1", "0-1-7", "0-1-3x"});
}

TEST_CASE("A spawner's id given by the caller stands in for walking the tree", "[graph]") {
    // JobRun holds the spawner's id in its record and passes it on; ids under it are then
    // compared with it. Explicit ids shaped like the generated ones must still be seen.
    TaskGraph graph;
    graph.add_roots({{"0", {}}, {"a", {}}, {"0-1", {}}}, false);  // "0-1": explicit, shaped like 0's child 1
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    graph.mark_started(1);
    CHECK(graph.duplicate_ids({{"0-0", {}}, {"0-1", {}}, {"0-0", {}}, {"0-2", {}}}, 0, "0") ==
          std::vector<std::string>{"0-1", "0-0"});
    CHECK(graph.duplicate_ids({{"a-0", {}}, {"0-1", {}}, {"a", {}}}, 1, "a") == std::vector<std::string>{"0-1", "a"});

    CHECK(graph.add_children(0, "0", {{"0-0", {}}, {"0-5", {}}}, changes) == 3);  // "0-5" at position 1: explicit
    CHECK(graph.add_children(1, "a", {{"a-0", {}}}, changes) == 5);               // under an explicit parent
    CHECK(graph.find("0-0") == Index{3});
    CHECK(graph.find("0-5") == Index{4});
    CHECK(graph.find("0-1") == Index{2});
    CHECK(graph.find("a-0") == Index{5});

    graph.mark_started(3);
    CHECK(graph.duplicate_ids({{"0-0-0", {}}, {"a-0", {}}, {"0-0-1", {}}}, 3, "0-0") ==
          std::vector<std::string>{"a-0"});
    CHECK(graph.add_children(3, "0-0", {{"0-0-0", {}}, {"0-0-1", {}}}, changes) == 6);
    CHECK(graph.find("0-0-1") == Index{7});
    CHECK(graph.duplicate_ids({{"0-0-1", {}}, {"0-0-2", {}}}) == std::vector<std::string>{"0-0-1"});
    CHECK(names(graph, {3, 4, 5, 6, 7}) == std::vector<std::string>{"0-0", "0-5", "a-0", "0-0-0", "0-0-1"});

    // An explicit parent shaped like a generated id: its children's ids are explicit too.
    graph.mark_started(2);
    CHECK(graph.duplicate_ids({{"0-1-0", {}}, {"0-0", {}}}, 2, "0-1") == std::vector<std::string>{"0-0"});
    CHECK(graph.duplicate_ids({{"0-1-0", {}}, {"0-0", {}}}) == std::vector<std::string>{"0-0"});
    CHECK(graph.add_children(2, "0-1", {{"0-1-0", {}}}, changes) == 8);
    CHECK(graph.find("0-1-0") == Index{8});
    CHECK(graph.id(8) == "0-1-0");
    CHECK(graph.duplicate_ids({{"0-1-0", {}}}, 2, "0-1") == std::vector<std::string>{"0-1-0"});
}

TEST_CASE("A batch that repeats an id adds none of its tasks", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"0", {}}, {"a", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    CHECK(graph.duplicate_ids({{"0-0", {}}, {"x", {}}, {"0-0", {}}}, 0, "0") == std::vector<std::string>{"0-0"});
    // "0-0" is generated at position 0, then comes again at position 2, where it is explicit.
    CHECK_THROWS_WITH(graph.add_children(0, "0", {{"0-0", {}}, {"x", {}}, {"0-0", {}}}, changes),
                      "Task id 0-0 is taken already");
    CHECK_THROWS_WITH(graph.add_children(0, "0", {{"0-0", {}}, {"y", {}}, {"a", {}}}, changes),
                      "Task id a is taken already");
    CHECK(graph.size() == 2);
    CHECK(graph.find("0-0") == std::nullopt);
    CHECK(graph.find("x") == std::nullopt);
    CHECK(graph.find("y") == std::nullopt);
    // The parent may still add its batch, and the ids given back are free again.
    CHECK(graph.add_children(0, "0", {{"0-0", {}}, {"x", {}}, {"0-2", {}}}, changes) == 2);
    CHECK(graph.find("0-0") == Index{2});
    CHECK(graph.find("x") == Index{3});
    CHECK(graph.find("0-2") == Index{4});
    CHECK(names(graph, {2, 3, 4}) == std::vector<std::string>{"0-0", "x", "0-2"});
    CHECK(graph.unsettled() == 5);
}

TEST_CASE("A batch whose first id is taken, or a second batch of children, is refused", "[graph]") {
    TaskGraph graph;
    graph.add_roots({{"0", {}}, {"x", {}}}, false);
    TaskGraph::Changes changes;
    graph.start(changes);
    graph.mark_started(0);
    CHECK_THROWS_WITH(graph.add_children(0, {{"x", {}}}, changes), "Task id x is taken already");
    CHECK(graph.size() == 2);
    graph.add_children(0, {{"0-0", {}}}, changes);
    CHECK_THROWS_WITH(graph.add_children(0, {{"0-1", {}}}, changes), "Task 0 has added its children already");
    CHECK(graph.size() == 3);
    CHECK(graph.find("0-1") == std::nullopt);
}
