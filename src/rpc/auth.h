// The shared-secret token of a Deployment or Flow (`auth_token`): callers send it as gRPC
// metadata `authorization: Bearer <token>`; servers compare it in constant time and refuse a call
// without it with UNAUTHENTICATED. grpc.health stays open so that probes need no secret.
#ifndef SHOAL_RPC_AUTH_H_
#define SHOAL_RPC_AUTH_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_callback.h>

#include <string>
#include <string_view>

#include "shoal/status.h"

namespace shoal::rpc {

// Where processes read the token: never argv, which `ps` shows to every user.
inline constexpr char kAuthTokenEnv[] = "SHOAL_AUTH_TOKEN";
inline constexpr char kAuthorizationKey[] = "authorization";

// "Bearer <token>".
std::string BearerValue(std::string_view token);

// Whether `presented` (a gRPC `authorization` metadata value or an HTTP Authorization header)
// is "Bearer <token>" ("Bearer" in any case, as RFC 6750 allows). False for an empty token.
// SHA-256 digests are compared without an early exit, so neither the token's bytes nor its
// length can be guessed from the time taken.
bool TokenMatches(std::string_view presented, std::string_view token);

// The token of this process: the first line of `token_file` when given (an unreadable or empty
// file is an error naming it), else env SHOAL_AUTH_TOKEN, else "" (no token).
StatusOr<std::string> LoadAuthToken(const std::string& token_file);

// OK when `token` is empty or the call carries it; else UNAUTHENTICATED with a message that does
// not echo what was sent.
grpc::Status CheckAuth(const grpc::CallbackServerContext& context, std::string_view token);

// For a unary handler: true when the call may go on; else `reactor` was finished with CheckAuth's
// UNAUTHENTICATED.
bool Admit(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
           std::string_view token);

// A bidi stream refused before reading anything: finishes at once with `status`.
template <typename Request, typename Response>
class RefusedStream : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_AUTH_H_
