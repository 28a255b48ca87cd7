// The in-process hook: a program that installed none is told how to, naming the Deployment; an
// installed starter gets the spec, the host and each replica's workspace.
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/orchestrator/inprocess_replicas.h"

namespace shoal::orchestrator {
namespace {

using ::testing::HasSubstr;

class NoReplicas : public InProcessReplicas {
 public:
  const std::vector<std::vector<routing::Address>>& addresses() const override {
    return addresses_;
  }
  void Stop(absl::Duration grace) override {}

 private:
  std::vector<std::vector<routing::Address>> addresses_;
};

TEST(InProcessHookTest, WithoutAStarterTheErrorSaysHowToGetOne) {
  config::DeploymentSpec spec;
  spec.name = "tok";
  spec.inprocess = true;
  auto started = StartInProcessReplicas(spec, "127.0.0.1", [](int, int) { return ""; });
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.status().message(), HasSubstr("Deployment 'tok'"));
  EXPECT_THAT(started.status().message(), HasSubstr("shoal::EnableInProcessExecutors()"));

  std::string seen;
  SetInProcessStarter([&seen](const config::DeploymentSpec& s, const std::string& host,
                              const std::function<std::string(int, int)>& workspace_of)
                          -> StatusOr<std::unique_ptr<InProcessReplicas>> {
    seen = s.name + "@" + host + ":" + workspace_of(0, 1);
    return std::unique_ptr<InProcessReplicas>(new NoReplicas());
  });
  started = StartInProcessReplicas(spec, "127.0.0.1", [](int s, int r) {
    return "ws-" + std::to_string(s) + "-" + std::to_string(r);
  });
  EXPECT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(seen, "tok@127.0.0.1:ws-0-1");
  SetInProcessStarter(nullptr);
}

}  // namespace
}  // namespace shoal::orchestrator
