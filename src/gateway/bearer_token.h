// The shared-secret check of the HTTP front end: `Authorization: Bearer <token>`, compared in
// constant time (the time taken does not tell how much of a guess was right, nor its length).
#ifndef SHOAL_GATEWAY_BEARER_TOKEN_H_
#define SHOAL_GATEWAY_BEARER_TOKEN_H_

#include <string_view>

namespace shoal::gateway {

// Whether an Authorization header value carries `token` ("Bearer" is matched case-insensitively,
// as RFC 6750 allows). False for an empty token.
bool BearerTokenMatches(std::string_view authorization, std::string_view token);

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_BEARER_TOKEN_H_
