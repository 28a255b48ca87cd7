// shoal::EnableInProcessExecutors, the public way to install the in-process hook.
#include "shoal/deployment.h"
#include "src/inprocess/replicas.h"

namespace shoal {

void EnableInProcessExecutors() { inprocess::Install(); }

}  // namespace shoal
