// GPU round robin: turns a CUDA_VISIBLE_DEVICES value such as "RR", "RR1:", "RR0,2" or
// "RRGPU-a,GPU-b" into one device per replica, as Jina does, and counts the machine's GPUs.
// The orchestrator applies the result to every shard's replicas before spawning them.
#ifndef SHOAL_ORCHESTRATOR_GPU_ASSIGNMENT_H_
#define SHOAL_ORCHESTRATOR_GPU_ASSIGNMENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace shoal::orchestrator {

// Returns the CUDA_VISIBLE_DEVICES value for each of `replicas` replicas.
//
// std::nullopt when `value` does not start with "RR": the replicas inherit `value` unchanged.
// Otherwise the text after "RR" (optionally wrapped in [..]) selects devices out of
// `device_count`, and replica j gets the j-th selected device, cycling:
//   ""              every device, 0..device_count-1
//   "n"             device n; negative n counts from the end (Python indexing)
//   "start:stop:step"  Python slice semantics over 0..device_count-1 (negatives, steps)
//   "i,j,..."       those indices, each in 0..device_count-1, repeats allowed
//   "uuid" / "uuid,uuid,..."  those device UUIDs, e.g. GPU-8932f937-... or MIG-...
//
// InvalidArgument, quoting `value`, where Jina would crash or pass a meaningless value on:
// device_count < 1, an index out of range, a slice that selects nothing or has step 0, ints
// mixed with UUIDs, empty items, malformed text ("RRx:y"), or replicas < 1.
absl::StatusOr<std::optional<std::vector<std::string>>> AssignCudaDevices(std::string_view value,
                                                                          int replicas,
                                                                          int device_count);

// The number of "UUID" occurrences in the output of `nvidia-smi -L` (one per GPU, plus one per
// MIG device, as Jina counts them).
int CountUuids(std::string_view nvidia_smi_output);

// The number of CUDA devices on this machine: CountUuids of `nvidia-smi -L` when that command
// runs and exits 0 within `timeout` (it is killed otherwise); else env CUDA_TOTAL_DEVICES; else
// 0. InvalidArgument when CUDA_TOTAL_DEVICES is needed and is not a non-negative integer.
// Blocks for up to `timeout`. Reads the environment, so not safe against a concurrent setenv.
absl::StatusOr<int> DetectCudaDeviceCount(absl::Duration timeout = absl::Seconds(5));

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_GPU_ASSIGNMENT_H_
