// The Sleep built-in Executor: waits a configurable time before answering as Echo, to stand in
// for a slow model in tests of timeouts, load balancing and back-pressure.
#ifndef SHOAL_EXECUTORS_SLEEP_H_
#define SHOAL_EXECUTORS_SLEEP_H_

#include "shoal/executor.h"

namespace shoal::builtin {

// Sleeps `parameters.ms` (else `uses_with.ms`, else 0) milliseconds on every endpoint, then
// returns the docs marked with `served_by`. Thread-compatible.
class Sleep : public Executor {
 public:
  explicit Sleep(const Config& with) : with_(with) {}

  static void Register(Endpoints<Sleep>& e) {
    e.On(std::string(kDefaultEndpoint), &Sleep::Default);
  }

  Status Default(DocList& docs, const Params& params);

 private:
  const Config with_;
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_SLEEP_H_
