// Python Executors behind a ReplicaRuntime in this process: documents reach Python as views over
// the request's memory (no copy), what Python keeps outlives the request, and a returned part of
// the request replaces its docs.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "docarray.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/arena.h"
#include "gtest/gtest.h"
#include "jina.pb.h"
#include "src/executor/loader.h"
#include "src/python/embed.h"
#include "src/replica/runtime.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<replica::ReplicaRuntime> Runtime(const std::string& class_name) {
  python::InstallPythonExecutors();
  const std::string uses =
      (std::filesystem::path(SHOAL_SOURCE_DIR) / "tests/python/executors/views.py").string() + ":" +
      class_name;
  StatusOr<executor::LoadedExecutor> loaded =
      executor::LoadExecutor(uses, Params(), {.name = "views/rep-0"});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return nullptr;
  return std::make_unique<replica::ReplicaRuntime>(
      std::move(loaded).value(), replica::ReplicaRuntime::Options{.name = "views/rep-0"});
}

// A request on an arena, owned by the shared memory the server would hand over.
struct ArenaRequest {
  google::protobuf::Arena arena;
  jina::DataRequestProto* request =
      google::protobuf::Arena::CreateMessage<jina::DataRequestProto>(&arena);
};

std::shared_ptr<ArenaRequest> MakeRequest(std::string_view endpoint, int docs) {
  auto owner = std::make_shared<ArenaRequest>();
  owner->request->mutable_header()->set_exec_endpoint(std::string(endpoint));
  DocList list(owner->request->mutable_data()->mutable_docs());
  for (int i = 0; i < docs; ++i) {
    Doc doc = list.Add();
    doc.set_text(absl::StrCat("t", i));
    doc.set_embedding(std::vector<float>{1.0f + i, 2, 3, 4});
  }
  return owner;
}

DocList Docs(ArenaRequest& owner) { return DocList(owner.request->mutable_data()->mutable_docs()); }

uintptr_t BufferAddress(const Doc& doc) {
  return reinterpret_cast<uintptr_t>(doc.GetNdArray("embedding")->bytes().data());
}

TEST(PyExecutorTest, EmbeddingsAreViewsOfTheRequestsMemory) {
  auto runtime = Runtime("Address");
  ASSERT_NE(runtime, nullptr);
  std::shared_ptr<ArenaRequest> owner = MakeRequest("/x", 3);
  std::vector<uintptr_t> addresses;
  for (const Doc& doc : Docs(*owner)) addresses.push_back(BufferAddress(doc));
  StatusOr<bool> failed =
      runtime->Process(*owner->request, replica::ReplicaRuntime::Clock::now(), owner);
  ASSERT_TRUE(failed.ok()) << failed.status();
  ASSERT_FALSE(*failed) << owner->request->header().status().DebugString();
  DocList docs = Docs(*owner);
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(docs[i].text(), std::to_string(addresses[i]));  // Python saw the bytes in place
    EXPECT_EQ(BufferAddress(docs[i]), addresses[i]);
  }
  EXPECT_THAT(std::vector<float>(docs[1].embedding().begin(), docs[1].embedding().end()),
              ElementsAre(4, 4, 6, 8));
}

TEST(PyExecutorTest, WithoutTheRequestsMemoryPythonEditsACopyThatIsWrittenBack) {
  auto runtime = Runtime("Address");
  ASSERT_NE(runtime, nullptr);
  std::shared_ptr<ArenaRequest> owner = MakeRequest("/x", 2);
  const uintptr_t address = BufferAddress(Docs(*owner)[0]);
  ASSERT_TRUE(runtime->Process(*owner->request).ok());
  DocList docs = Docs(*owner);
  EXPECT_NE(docs[0].text(), std::to_string(address));
  EXPECT_THAT(std::vector<float>(docs[0].embedding().begin(), docs[0].embedding().end()),
              ElementsAre(2, 4, 6, 8));
}

TEST(PyExecutorTest, WhatPythonKeepsOutlivesTheRequest) {
  auto runtime = Runtime("Keeper");
  ASSERT_NE(runtime, nullptr);
  {
    std::shared_ptr<ArenaRequest> owner = MakeRequest("/keep", 2);
    ASSERT_TRUE(
        runtime->Process(*owner->request, replica::ReplicaRuntime::Clock::now(), owner).ok());
    // The request is answered and overwritten; Python's doc was detached from it.
    Docs(*owner)[0].set_text("overwritten after the request");
  }
  std::shared_ptr<ArenaRequest> read = MakeRequest("/read", 1);
  ASSERT_TRUE(runtime->Process(*read->request, replica::ReplicaRuntime::Clock::now(), read).ok());
  EXPECT_EQ(Docs(*read)[0].text(), "t0|10.0|2");
}

TEST(PyExecutorTest, AReturnedPartOfTheRequestReplacesItsDocs) {
  auto runtime = Runtime("Keeper");
  ASSERT_NE(runtime, nullptr);
  std::shared_ptr<ArenaRequest> owner = MakeRequest("/matches", 1);
  DocList matches = Docs(*owner)[0].matches();
  matches.Add().set_text("m0");
  matches.Add().set_text("m1");
  ASSERT_TRUE(runtime->Process(*owner->request, replica::ReplicaRuntime::Clock::now(), owner).ok());
  DocList docs = Docs(*owner);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text(), "m0");
  EXPECT_EQ(docs[1].text(), "m1");
}

}  // namespace
}  // namespace shoal
