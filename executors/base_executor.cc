// BaseExecutor: Jina's default Executor, with no endpoints: every request passes through
// unchanged. Flows use it for join nodes (`needs_all`).
#include "shoal/executor.h"

namespace shoal::builtin {

class BaseExecutor : public Executor {
 public:
  static void Register(Endpoints<BaseExecutor>& endpoints) {}
};

SHOAL_EXECUTOR(BaseExecutor);

}  // namespace shoal::builtin
