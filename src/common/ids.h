// Identifiers: request ids and document ids as Jina and docarray make them (uuid4 hex), random
// or derived from a seed.
#ifndef SHOAL_COMMON_IDS_H_
#define SHOAL_COMMON_IDS_H_

#include <string>
#include <string_view>

namespace shoal {

// 32 lower-case hex digits from a per-thread random generator. Thread-safe.
std::string RandomHexId();

// 32 lower-case hex digits that depend only on `seed` and `path`, the same in every process and
// build (a fixed 128-bit hash, not a cryptographic one): ids that several replicas must agree
// on without talking, such as those of documents that came without one.
std::string DerivedHexId(std::string_view seed, std::string_view path);

}  // namespace shoal

#endif  // SHOAL_COMMON_IDS_H_
