// The exception rides in the Status as a payload: a serialized jina.StatusProto.ExceptionProto
// plus the description.
#include "src/executor/exception.h"

#include "absl/strings/cord.h"
#include "jina.pb.h"

namespace shoal::executor {
namespace {

constexpr char kPayloadUrl[] = "type.googleapis.com/jina.StatusProto";

}  // namespace

Status ExceptionStatus(const ExceptionInfo& info) {
  jina::StatusProto proto;
  proto.set_description(info.description);
  jina::StatusProto::ExceptionProto* exception = proto.mutable_exception();
  exception->set_name(info.name);
  for (const std::string& arg : info.args) exception->add_args(arg);
  for (const std::string& line : info.stacks) exception->add_stacks(line);
  Status status = absl::UnknownError(info.description);
  status.SetPayload(kPayloadUrl, absl::Cord(proto.SerializeAsString()));
  return status;
}

std::optional<ExceptionInfo> ExceptionOf(const Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  jina::StatusProto proto;
  if (!proto.ParseFromString(std::string(*payload))) return std::nullopt;
  ExceptionInfo info;
  info.name = proto.exception().name();
  info.args.assign(proto.exception().args().begin(), proto.exception().args().end());
  info.stacks.assign(proto.exception().stacks().begin(), proto.exception().stacks().end());
  info.description = proto.description();
  return info;
}

}  // namespace shoal::executor
