// Random identifiers: request ids and document ids as Jina and docarray make them (uuid4 hex).
#ifndef SHOAL_COMMON_IDS_H_
#define SHOAL_COMMON_IDS_H_

#include <string>

namespace shoal {

// 32 lower-case hex digits from a per-thread random generator. Thread-safe.
std::string RandomHexId();

}  // namespace shoal

#endif  // SHOAL_COMMON_IDS_H_
