// Server reflection (grpc.reflection.v1alpha) per server: on by default, as in Jina; off when
// the operator does not want the services and messages listed to anyone who connects.
#ifndef SHOAL_RPC_REFLECTION_H_
#define SHOAL_RPC_REFLECTION_H_

#include <grpcpp/grpcpp.h>

namespace shoal::rpc {

// Registers the reflection plugin for every ServerBuilder made from now on in this process.
void InitReflection();
// Takes reflection out of one builder (made after InitReflection) when not `enabled`.
void SetReflection(grpc::ServerBuilder& builder, bool enabled);

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_REFLECTION_H_
