// A shared-library Executor for the dynamic batching tests: it records the size of every call it
// gets, so that a test can read back (from `/sizes`) the batches the replica formed. Its sleep
// never looks at request_cancelled(): the shutdown tests use it as an Executor that cannot be
// stopped.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "shoal/doc.h"
#include "shoal/executor.h"
#include "shoal/params.h"

namespace shoal_testing {

// `/embed` appends "|<parameters.tag>" to each document's text after sleeping `parameters.ms`;
// `parameters.fail` makes it fail. `/sizes` answers one document whose text lists the sizes of
// the `/embed` calls so far ("8,8,8"). Thread-compatible, as every Executor.
class BatchRecorder : public shoal::Executor {
 public:
  static void Register(shoal::Endpoints<BatchRecorder>& e) {
    e.On("/embed", &BatchRecorder::Embed);
    e.On("/sizes", &BatchRecorder::Sizes);
  }

  shoal::Status Embed(shoal::DocList& docs, const shoal::Params& params) {
    sizes_.push_back(static_cast<int>(docs.size()));
    if (const int ms = params.Get("ms", 0); ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (params.Get("fail", false)) return absl::InternalError("asked to fail");
    const std::string tag = params.Get("tag", "");
    for (shoal::Doc doc : docs) doc.set_text(std::string(doc.text()) + "|" + tag);
    return shoal::Status();
  }

  shoal::Status Sizes(shoal::DocList& docs, const shoal::Params& params) {
    std::string text;
    for (int size : sizes_) text += (text.empty() ? "" : ",") + std::to_string(size);
    docs.Clear();
    docs.Add().set_text(text);
    return shoal::Status();
  }

 private:
  std::vector<int> sizes_;
};

SHOAL_EXECUTOR(BatchRecorder);

}  // namespace shoal_testing
