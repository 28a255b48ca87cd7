// FindLeader: one process_single_data write per replica and pass.
#include "tests/testing/leader_probe.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "jina.grpc.pb.h"

namespace shoal::testing {

int FindLeader(const std::vector<std::string>& addresses, const LeaderProbe& probe) {
  for (int round = 0; round < probe.rounds; ++round) {
    for (int r = 0; r < static_cast<int>(addresses.size()); ++r) {
      auto stub = jina::JinaSingleDataRequestRPC::NewStub(
          grpc::CreateChannel(addresses[r], grpc::InsecureChannelCredentials()));
      jina::DataRequestProto request, response;
      request.mutable_header()->set_request_id(absl::StrCat(probe.id_prefix, "-", round, "-", r));
      request.mutable_header()->set_exec_endpoint(probe.endpoint);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + probe.timeout));
      if (stub->process_single_data(&context, request, &response).ok()) return r;
    }
    absl::SleepFor(probe.pause);
  }
  return -1;
}

}  // namespace shoal::testing
