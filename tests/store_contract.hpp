#pragma once
// The store contract: test_store_contract.cpp runs the same cases against each JobStore. Each
// test executable that compiles it defines make_store_backend() for the store it tests.

#include <jobgraph/store.hpp>

#include <memory>
#include <string>

namespace jobgraph::testing {

/// Fresh, empty storage for one test case, removed again at its end.
class StoreBackend {
public:
    virtual ~StoreBackend() = default;
    /// A new store object on this storage (as another process would open it).
    virtual std::unique_ptr<JobStore> open() = 0;
    /// Writes a schema version into the storage behind the store's back, as a newer build would.
    /// No store object may be open on it.
    virtual void set_schema_version(int version) = 0;
};

/// The backend of the store this executable tests.
std::unique_ptr<StoreBackend> make_store_backend();

}  // namespace jobgraph::testing
