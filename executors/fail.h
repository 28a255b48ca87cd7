// The Fail built-in Executor: answers with an Executor error on demand, so that tests can see how
// errors travel through Gateways, Flows and clients.
#ifndef SHOAL_EXECUTORS_FAIL_H_
#define SHOAL_EXECUTORS_FAIL_H_

#include "shoal/executor.h"

namespace shoal::builtin {

// Fails every request when `uses_with.always` is true, and a single request when its
// `parameters.fail` is true; otherwise answers as Echo. Thread-compatible.
class Fail : public Executor {
 public:
  explicit Fail(const Config& with) : always_(with.Get("always", false)) {}

  static void Register(Endpoints<Fail>& e) { e.On(std::string(kDefaultEndpoint), &Fail::Default); }

  Status Default(DocList& docs, const Params& params);

 private:
  const bool always_;
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_FAIL_H_
