// Reflection on or off for one ServerBuilder.
#include "src/rpc/reflection.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace shoal::rpc {
namespace {

// Drops the reflection plugin from one builder's plugins.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* args) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
      return plugin->name() == "proto_server_reflection";
    });
  }
};

}  // namespace

void InitReflection() { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); }

void SetReflection(grpc::ServerBuilder& builder, bool enabled) {
  if (!enabled) builder.SetOption(std::make_unique<WithoutReflection>());
}

}  // namespace shoal::rpc
