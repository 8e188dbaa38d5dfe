// The C++ example programs run and print what they promise.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace cli_test;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// root/a.txt and root/sub/b.txt hold the same bytes; root/sub/deeper/c.txt is one level further.
std::filesystem::path make_small_tree() {
    const auto root = scratch_path("tree");
    std::filesystem::create_directories(root / "sub" / "deeper");
    std::ofstream(root / "a.txt") << "hello";
    std::ofstream(root / "sub" / "b.txt") << "hello";
    std::ofstream(root / "sub" / "deeper" / "c.txt") << "x";
    return root;
}

}  // namespace

TEST_CASE("dirscan hashes every file and finds identical ones", "[examples][dirscan]") {
    const auto root = make_small_tree();
    const auto run = run_binary(DIRSCAN_PATH, {root.string()});
    REQUIRE(run.exit_code == 0);
    // scan + report + 2 subdirectory walkers + 3 hashing tasks
    CHECK(contains(run.out, "job: 7 tasks (maxTasks 500), deepest level 3 (maxDepth 4)"));
    CHECK(contains(run.out, "3 directories, 3 files, 11 bytes; 3 files hashed, 0 unreadable"));
    CHECK(contains(run.out, "identical contents (same size and FNV-1a 64 digest): 1 groups"));
    // FNV-1a 64 of "hello"
    CHECK(contains(run.out, "a430d84680aabd0b (5 bytes): " + (root / "a.txt").string() + ", " +
                                (root / "sub" / "b.txt").string()));
}

TEST_CASE("dirscan at maxDepth lists without descending", "[examples][dirscan]") {
    const auto root = make_small_tree();
    const auto run = run_binary(DIRSCAN_PATH, {root.string(), "--max-depth", "2"});
    REQUIRE(run.exit_code == 0);
    CHECK(contains(run.out, "job: 6 tasks (maxTasks 500), deepest level 2 (maxDepth 2)"));
    CHECK(contains(run.out, "3 directories, 3 files, 11 bytes; 2 files hashed"));
    CHECK(contains(run.out, "maxDepth cut 1 directories short"));
    CHECK(contains(run.out, "left out by the limits: 0 subdirectories not entered, 1 files not hashed"));
}

TEST_CASE("dirscan keeps within maxTasks by skipping what does not fit", "[examples][dirscan]") {
    const auto root = make_small_tree();
    const auto run = run_binary(DIRSCAN_PATH, {root.string(), "--max-tasks", "4"});
    REQUIRE(run.exit_code == 0);
    // scan, report, then a.txt's hash and the sub walker; sub finds no room left.
    CHECK(contains(run.out, "job: 4 tasks (maxTasks 4)"));
    CHECK(contains(run.out, "maxTasks cut 1 directories short"));
}

TEST_CASE("dirscan --strict-limits shows the library refusing a batch", "[examples][dirscan]") {
    const auto root = make_small_tree();
    const auto run = run_binary(DIRSCAN_PATH, {root.string(), "--max-tasks", "3", "--strict-limits"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "failed scan: Task limit exceeded: 3 tasks maximum. Task scan attempted to spawn child scan-1."));
    CHECK(contains(run.out, "report aborted"));
}

TEST_CASE("dirscan refuses a folder that does not exist", "[examples][dirscan]") {
    CHECK(run_binary(DIRSCAN_PATH, {"/no/such/folder"}).exit_code == 2);
}

TEST_CASE("dynamic_spawning takes each order down the branch its validator chose", "[examples]") {
    const auto run = run_binary(DYNAMIC_SPAWNING_PATH, {});
    REQUIRE(run.exit_code == 0);
    CHECK(contains(run.out, "job incoming-orders: succeeded, 11 tasks (8 spawned at run time)"));
    CHECK(contains(run.out, "order 1043 rejected: customer is not an e-mail address; no items"));
    CHECK(contains(run.out, "ledger: "));
    CHECK(contains(run.out, "order-1044-notify"));
}

TEST_CASE("pipeline fans out three analyses and fans in a report", "[examples]") {
    const auto text = scratch_path("poem.txt");
    std::ofstream(text) << "Tyger Tyger, burning bright,\nIn the forests of the night;\n\nWhat immortal hand or eye,\n";
    const auto run = run_binary(PIPELINE_PATH, {text.string()});
    REQUIRE(run.exit_code == 0);
    CHECK(contains(run.out, "lines: 4 (1 blank), longest 28 characters"));
    CHECK(contains(run.out, "words of 4+ letters: 9 (8 distinct)"));
    CHECK(contains(run.out, "    tyger            2\n"));
    CHECK(contains(run.out, "tasks by start time: load, "));
}

TEST_CASE("failure_handling shows abortOnFailure on and off", "[examples]") {
    const auto run = run_binary(FAILURE_HANDLING_PATH, {});
    REQUIRE(run.exit_code == 0);
    CHECK(contains(run.out, "nightly-backup (abortOnFailure=true): failed"));
    CHECK(contains(run.out, "-> 0 succeeded, 1 failed, 4 aborted"));
    CHECK(contains(run.out, "nightly-backup (abortOnFailure=false): failed"));
    CHECK(contains(run.out, "verify       aborted    Aborted: dependency copy-photos failed"));
}
