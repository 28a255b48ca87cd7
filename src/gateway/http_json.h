// The JSON forms of Jina's HTTP gateway: a request body (`POST /post`, `POST /<endpoint>`) becomes
// a jina.DataRequestProto with docs encoded as docarray encodes them, and an answer becomes the
// response body. Used by the HTTP front end (http_server.h); knows nothing of sockets.
#ifndef SHOAL_GATEWAY_HTTP_JSON_H_
#define SHOAL_GATEWAY_HTTP_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "jina.pb.h"
#include "shoal/status.h"

namespace shoal::gateway {

// What one request body may expand to. Counted while the JSON is parsed, so a body over a
// limit is refused before it is held in memory.
struct JsonLimits {
  // Docs in one request, every doc in "data" and in their "matches" and "chunks" at any depth.
  size_t max_docs = 10000;
  // An estimate, from above, of the memory the parsed JSON takes (values, keys, strings).
  size_t max_memory_bytes = size_t{256} << 20;
};

// Parses a request body into a DataRequestProto with a fresh request id:
//   {"data": [docs...], "parameters": {...}, "execEndpoint": "/x", "targetExecutor": "..."}
// `path_endpoint` is the endpoint of `POST /<endpoint>` (it wins over "execEndpoint"); empty for
// `POST /post`, where a missing "execEndpoint" means "/". Every key is optional.
//
// A doc is an object: "id" (a string; 32 hex digits are generated when missing or null); a
// field that is null is unset, whatever its kind (docarray v2 sends every field, unset ones as
// null); strings become text, numbers floats (integers that fit int32 stay integers), bools
// booleans, objects dicts (a null inside one is None, which reads as unset); a list of numbers
// (nested lists: n-d, rectangular) becomes a "<f4" ndarray with type "ndarray"; a list of objects
// under "matches" or "chunks" becomes a doc list; any other list a list. "embedding" and "tensor"
// must hold numbers. A string in "data" is a doc with that text.
//
// InvalidArgument naming the place and the problem, e.g. "data[3].embedding: expected numbers".
// ResourceExhausted naming the limit (max_docs_per_request, max_json_memory_bytes) when a
// body passes one of `limits`.
StatusOr<jina::DataRequestProto> DataRequestFromJson(std::string_view body,
                                                     std::string_view path_endpoint,
                                                     const JsonLimits& limits = {});

// The response body for an answer: {"header": {"requestId", "execEndpoint", "status" (only on
// an Executor error: code, description, exception {name, args, executor})}, "parameters": {...},
// "data": [docs...]}. Ndarrays become (nested) lists of numbers, blobs base64 strings, doc lists
// lists of docs. Internal when an ndarray cannot be read (unknown dtype, wrong size).
StatusOr<std::string> DataRequestToJson(const jina::DataRequestProto& request);

// The request of a stream answered as server-sent events (`GET|POST /<endpoint>`, as Jina's HTTP
// gateway serves streaming endpoints): `body` is the document itself as a JSON object (its
// fields; empty means no fields), or a request body as above whose first doc is the one. Errors
// as DataRequestFromJson's.
StatusOr<jina::SingleDocumentRequestProto> StreamRequestFromJson(std::string_view body,
                                                                 std::string_view path_endpoint,
                                                                 const JsonLimits& limits = {});

// One server-sent event for a stream's message (a serialized SingleDocumentRequestProto):
// "event: update" with the document as JSON, or "event: error" with its header's error status.
StatusOr<std::string> StreamEvent(const jina::SingleDocumentRequestProto& message);

// `text` as a JSON string (quoted, escaped).
std::string JsonString(std::string_view text);

// {"detail": message}: the body of an HTTP error (FastAPI's shape, as Jina answers).
std::string ErrorJson(std::string_view message);

// GET /status: {"name", "version", "ready"}.
std::string InfoJson(std::string_view name, std::string_view version, bool ready);

// GET /dry_run (Jina's StatusProto): {"code": 0, "description": ""} when `error` is empty, else
// {"code": 1, "description": error}.
std::string DryRunJson(std::string_view error);

}  // namespace shoal::gateway

#endif  // SHOAL_GATEWAY_HTTP_JSON_H_
