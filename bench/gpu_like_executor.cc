// A bench-only Executor shaped like a GPU model: each call costs a fixed time plus a little per
// document (the device is busy, the CPU idle), so that batching requests pays off as it does
// for an encoder. `shoal executor --uses build/bench/libshoal_bench_gpu_like.so`.
#include <chrono>
#include <thread>

#include "shoal/doc.h"
#include "shoal/executor.h"
#include "shoal/params.h"

namespace shoal_bench {

// Every endpoint sleeps `call_us` (uses_with, default 2000) plus `doc_us` (default 20) per
// document, then answers the documents unchanged. Thread-compatible, as every Executor.
class GpuLike : public shoal::Executor {
 public:
  explicit GpuLike(const shoal::Config& with)
      : call_us_(with.Get("call_us", 2000)), doc_us_(with.Get("doc_us", 20)) {}

  static void Register(shoal::Endpoints<GpuLike>& e) {
    e.On(std::string(shoal::kDefaultEndpoint), &GpuLike::Run);
  }

  shoal::Status Run(shoal::DocList& docs, const shoal::Params& params) {
    const int64_t cost = call_us_ + doc_us_ * static_cast<int64_t>(docs.size());
    if (cost > 0) std::this_thread::sleep_for(std::chrono::microseconds(cost));
    return shoal::Status();
  }

 private:
  const int64_t call_us_;
  const int64_t doc_us_;
};

SHOAL_EXECUTOR(GpuLike);

}  // namespace shoal_bench
