// The Stream built-in Executor: a streaming endpoint that stands in for a generator model (an LLM
// writing tokens) in tests, examples and benchmarks of stream_doc and server-sent events.
#ifndef SHOAL_EXECUTORS_STREAM_H_
#define SHOAL_EXECUTORS_STREAM_H_

#include "shoal/executor.h"

namespace shoal::builtin {

// Every endpoint streams: for one input doc it writes `n` docs (parameters.n, else uses_with.n,
// else 3), each a copy of the input with id `<id>-<i>`, text `<text> <i>` and `served_by`,
// waiting `ms` milliseconds before each (parameters, else uses_with, else 0). With
// `parameters.fail_after = k` it fails (an Executor error) after writing k docs. When the caller
// goes away it stops and logs how many docs it wrote. Thread-compatible.
class Stream : public Executor {
 public:
  explicit Stream(const Config& with) : with_(with) {}

  static void Register(Endpoints<Stream>& e) {
    e.OnStream(std::string(kDefaultEndpoint), &Stream::Generate);
  }

  Status Generate(const Doc& in, const Params& params, DocWriter& out);

 private:
  const Config with_;
};

}  // namespace shoal::builtin

#endif  // SHOAL_EXECUTORS_STREAM_H_
