// Tests of the C++ API's export: Flow::ToKubernetesYaml gives the same objects as
// `shoal export kubernetes`, in one YAML stream, and reports a bad Add() instead of exporting.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/flow.h"
#include "yaml-cpp/yaml.h"

namespace shoal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FlowExportTest, ToKubernetesYamlIsOneStreamOfEveryObject) {
  Flow flow({.name = "search"});
  flow.Add({.name = "enc", .uses = "Echo", .replicas = 2})
      .Add({.name = "idx", .uses = "Counter", .replicas = 3, .workspace = "/w", .stateful = true});
  StatusOr<std::string> yaml = flow.ToKubernetesYaml({.k8s_namespace = "prod"});
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  std::vector<std::string> objects;
  for (const YAML::Node& doc : YAML::LoadAll(*yaml)) {
    EXPECT_EQ(doc["metadata"]["namespace"].as<std::string>(), "prod");
    objects.push_back(doc["kind"].as<std::string>() + "/" +
                      doc["metadata"]["name"].as<std::string>());
  }
  EXPECT_THAT(objects, ElementsAre("ConfigMap/gateway-flow", "Service/gateway",
                                   "Deployment/gateway", "Service/enc", "Deployment/enc",
                                   "Service/idx", "Service/idx-peers", "StatefulSet/idx"));
}

TEST(FlowExportTest, ABadAddIsReported) {
  Flow flow;
  flow.Add({.name = "enc", .uses = "Echo", .replicas = 0});
  StatusOr<std::string> yaml = flow.ToKubernetesYaml();
  ASSERT_FALSE(yaml.ok());
  EXPECT_THAT(std::string(yaml.status().message()), HasSubstr("replicas"));
}

}  // namespace
}  // namespace shoal
