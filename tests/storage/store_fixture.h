// StoreTest: an EventStore on a real RocksDB in a temporary folder, opened
// before each test and reopened with other options at will.
#ifndef EVENHAND_TESTS_STORAGE_STORE_FIXTURE_H_
#define EVENHAND_TESTS_STORAGE_STORE_FIXTURE_H_

#include <memory>
#include <utility>

#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  // Closes the store (if open) and opens it again on the same folder.
  void Reopen(StoreOptions options = {}) {
    store_.reset();
    options.data_dir = dir_.path();
    auto opened = EventStore::Open(std::move(options));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  evenhand::testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_TESTS_STORAGE_STORE_FIXTURE_H_
