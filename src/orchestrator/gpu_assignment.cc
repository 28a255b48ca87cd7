// GPU round robin (jina-semantics.md §6): parses the text after "RR" into a device spec, checks
// it against the device count, and cycles the selected devices over the replicas. Also runs
// `nvidia-smi -L`, bounded in time, to count the GPUs.
#include "src/orchestrator/gpu_assignment.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "include/shoal/status.h"
#include "src/common/strings.h"

namespace shoal::orchestrator {
namespace {

constexpr std::string_view kRoundRobinPrefix = "RR";
constexpr size_t kMaxNvidiaSmiOutputBytes = 1 << 20;

// What the text after "RR" asks for, before it is checked against the device count.
struct AllDevices {};
struct OneIndex {
  int64_t index;
};
struct DeviceSlice {
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;
};
struct IndexList {
  std::vector<int64_t> indices;
};
struct UuidList {
  std::vector<std::string> uuids;
};
using DeviceSpec = std::variant<AllDevices, OneIndex, DeviceSlice, IndexList, UuidList>;

absl::Status Invalid(std::string_view value, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid CUDA_VISIBLE_DEVICES \"%s\": %s", value, what));
}

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t pos = s.find(separator);
    parts.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    s.remove_prefix(pos + 1);
  }
}

// [+-]?[0-9]+, what Python's int() accepts here (whitespace is trimmed before).
bool LooksLikeInt(std::string_view s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// GPU-8932f937-..., MIG-GPU-.../1/0, MIG-...: a letter, then letters, digits, '-' and '/'.
bool LooksLikeUuid(std::string_view s) {
  if (s.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '/';
  });
}

absl::StatusOr<int64_t> ParseInt(std::string_view value, std::string_view item) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(AsAbsl(item), &n)) {
    return Invalid(value, absl::StrFormat("device index %s is out of range", item));
  }
  return n;
}

std::string NeitherIndexNorUuid(std::string_view item) {
  return absl::StrFormat("\"%s\" is neither a device index nor a GPU UUID", item);
}

// "start:stop:step", each part optional.
absl::StatusOr<DeviceSpec> ParseSlice(std::string_view value,
                                      const std::vector<std::string_view>& parts) {
  if (parts.size() > 3) {
    return Invalid(value, "a slice has at most three parts, start:stop:step");
  }
  DeviceSlice slice;
  std::optional<int64_t>* fields[] = {&slice.start, &slice.stop, &slice.step};
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = StripWhitespace(parts[i]);
    if (part.empty()) continue;
    if (!LooksLikeInt(part)) {
      return Invalid(value, absl::StrFormat("slice part \"%s\" is not an integer", part));
    }
    SHOAL_ASSIGN_OR_RETURN(*fields[i], ParseInt(value, part));
  }
  if (slice.step == 0) return Invalid(value, "slice step cannot be 0");
  return slice;
}

// "i,j,..." or "uuid,uuid,...".
absl::StatusOr<DeviceSpec> ParseList(std::string_view value,
                                     const std::vector<std::string_view>& items) {
  const bool ints = LooksLikeInt(StripWhitespace(items.front()));
  IndexList indices;
  UuidList uuids;
  for (std::string_view raw : items) {
    std::string_view item = StripWhitespace(raw);
    if (item.empty()) return Invalid(value, "empty item in the device list");
    if (item.find(':') != std::string_view::npos) {
      return Invalid(value, absl::StrFormat("slice \"%s\" cannot be part of a list", item));
    }
    if (LooksLikeInt(item) != ints) {
      return Invalid(value, "the list mixes device indices and GPU UUIDs");
    }
    if (ints) {
      SHOAL_ASSIGN_OR_RETURN(int64_t index, ParseInt(value, item));
      indices.indices.push_back(index);
    } else if (LooksLikeUuid(item)) {
      uuids.uuids.emplace_back(item);
    } else {
      return Invalid(value, NeitherIndexNorUuid(item));
    }
  }
  if (ints) return indices;
  return uuids;
}

// `value` starts with "RR".
absl::StatusOr<DeviceSpec> ParseSpec(std::string_view value) {
  std::string_view v = value.substr(kRoundRobinPrefix.size());
  if (!v.empty() && (v.front() == '[' || v.back() == ']')) {
    if (v.size() < 2 || v.front() != '[' || v.back() != ']') {
      return Invalid(value, "unbalanced [ ]");
    }
    v = v.substr(1, v.size() - 2);
    if (StripWhitespace(v).empty()) return Invalid(value, "nothing inside [ ]");
  }
  if (v.empty()) return AllDevices{};
  std::vector<std::string_view> items = Split(v, ',');
  if (items.size() > 1) return ParseList(value, items);
  std::vector<std::string_view> parts = Split(v, ':');
  if (parts.size() > 1) return ParseSlice(value, parts);
  std::string_view item = StripWhitespace(v);
  if (item.empty()) return Invalid(value, "no device after RR");
  if (LooksLikeInt(item)) {
    SHOAL_ASSIGN_OR_RETURN(int64_t index, ParseInt(value, item));
    return OneIndex{index};
  }
  if (LooksLikeUuid(item)) return UuidList{{std::string(item)}};
  return Invalid(value, NeitherIndexNorUuid(item));
}

// Python's range(n)[start:stop:step]; `slice.step` is not 0.
std::vector<int64_t> SliceIndices(const DeviceSlice& slice, int64_t n) {
  // Any step of magnitude >= n selects only the start; clamping keeps the arithmetic in range.
  const int64_t step = std::clamp<int64_t>(slice.step.value_or(1), -n, n);
  auto adjust = [&](std::optional<int64_t> bound, int64_t if_missing) {
    if (!bound.has_value()) return if_missing;
    int64_t b = *bound;
    if (b < 0) {
      b = b < -n ? -1 : b + n;
      if (b < 0) return step < 0 ? int64_t{-1} : int64_t{0};
    } else if (b >= n) {
      return step < 0 ? n - 1 : n;
    }
    return b;
  };
  const int64_t start = adjust(slice.start, step < 0 ? n - 1 : 0);
  const int64_t stop = adjust(slice.stop, step < 0 ? -1 : n);
  std::vector<int64_t> selected;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) selected.push_back(i);
  return selected;
}

std::string IndexOutOfRange(int64_t index, int device_count) {
  return absl::StrFormat("device index %d is out of range: %d GPUs found, indices 0..%d", index,
                         device_count, device_count - 1);
}

std::vector<std::string> ToStrings(const std::vector<int64_t>& indices) {
  std::vector<std::string> out;
  out.reserve(indices.size());
  for (int64_t i : indices) out.push_back(std::to_string(i));
  return out;
}

// The devices `spec` selects out of `device_count` (> 0), in order; never empty.
absl::StatusOr<std::vector<std::string>> SelectDevices(const DeviceSpec& spec,
                                                       std::string_view value, int device_count) {
  const int64_t n = device_count;
  if (std::holds_alternative<AllDevices>(spec)) return ToStrings(SliceIndices({}, n));
  if (const auto* one = std::get_if<OneIndex>(&spec)) {
    if (one->index < -n || one->index >= n) {
      return Invalid(value, IndexOutOfRange(one->index, device_count) + " (or -1..-" +
                                std::to_string(n) + " from the end)");
    }
    return ToStrings({one->index < 0 ? one->index + n : one->index});
  }
  if (const auto* slice = std::get_if<DeviceSlice>(&spec)) {
    std::vector<int64_t> selected = SliceIndices(*slice, n);
    if (selected.empty()) {
      return Invalid(value,
                     absl::StrFormat("the slice selects none of the %d GPUs found", device_count));
    }
    return ToStrings(selected);
  }
  if (const auto* list = std::get_if<IndexList>(&spec)) {
    for (int64_t index : list->indices) {
      if (index < 0 || index >= n) return Invalid(value, IndexOutOfRange(index, device_count));
    }
    return ToStrings(list->indices);
  }
  return std::get<UuidList>(spec).uuids;
}

// Reads `fd` until end of file; false if `deadline` passes first or reading fails. Keeps at
// most kMaxNvidiaSmiOutputBytes of what it reads.
bool ReadUntilEof(int fd, absl::Time deadline, std::string* out) {
  char buffer[4096];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd pfd = {fd, POLLIN, 0};
    const int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1,
                                           std::numeric_limits<int>::max());
    const int ready = poll(&pfd, 1, static_cast<int>(ms));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got == 0) return true;
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    const size_t room = kMaxNvidiaSmiOutputBytes - std::min(out->size(), kMaxNvidiaSmiOutputBytes);
    out->append(buffer, std::min(room, static_cast<size_t>(got)));
  }
}

enum class WaitResult { kExited, kTimedOut, kLost };

// Waits for `pid` to exit until `deadline`. kLost when it was reaped elsewhere.
WaitResult WaitUntil(pid_t pid, absl::Time deadline, int* wait_status) {
  while (true) {
    const pid_t r = waitpid(pid, wait_status, WNOHANG);
    if (r == pid) return WaitResult::kExited;
    if (r < 0 && errno != EINTR) return WaitResult::kLost;
    if (absl::Now() >= deadline) return WaitResult::kTimedOut;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

pid_t SpawnNvidiaSmiList(int stdout_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char arg0[] = "nvidia-smi";
  char arg1[] = "-L";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, arg0, &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The stdout of `nvidia-smi -L` if it exits 0 before `timeout`; nullopt if it cannot be run,
// fails, or is too slow (then it is killed).
std::optional<std::string> RunNvidiaSmiList(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  const pid_t pid = SpawnNvidiaSmiList(fds[1]);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return std::nullopt;
  }
  std::string output;
  const bool eof = ReadUntilEof(fds[0], deadline, &output);
  close(fds[0]);
  int wait_status = 0;
  const WaitResult waited = eof ? WaitUntil(pid, deadline, &wait_status) : WaitResult::kTimedOut;
  if (waited == WaitResult::kLost) return std::nullopt;
  if (waited == WaitResult::kTimedOut) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    return std::nullopt;
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) return std::nullopt;
  return output;
}

absl::StatusOr<int> DeviceCountFromEnv() {
  const char* env = std::getenv("CUDA_TOTAL_DEVICES");
  if (env == nullptr) return 0;
  int count = 0;
  if (!absl::SimpleAtoi(AsAbsl(StripWhitespace(env)), &count) || count < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "CUDA_TOTAL_DEVICES \"%s\" is not a non-negative integer (`nvidia-smi -L` failed, so "
        "the GPU count comes from it)",
        env));
  }
  return count;
}

}  // namespace

absl::StatusOr<std::optional<std::vector<std::string>>> AssignCudaDevices(std::string_view value,
                                                                          int replicas,
                                                                          int device_count) {
  if (!value.starts_with(kRoundRobinPrefix)) return std::nullopt;
  if (replicas < 1) {
    return Invalid(value, absl::StrFormat("replicas must be at least 1, got %d", replicas));
  }
  SHOAL_ASSIGN_OR_RETURN(DeviceSpec spec, ParseSpec(value));
  if (device_count < 1) {
    return Invalid(value,
                   "no GPUs found: `nvidia-smi -L` failed or listed none, and "
                   "CUDA_TOTAL_DEVICES is not set (or is 0)");
  }
  SHOAL_ASSIGN_OR_RETURN(std::vector<std::string> devices,
                         SelectDevices(spec, value, device_count));
  std::vector<std::string> per_replica;
  per_replica.reserve(replicas);
  for (int j = 0; j < replicas; ++j) per_replica.push_back(devices[j % devices.size()]);
  return std::make_optional(std::move(per_replica));
}

int CountUuids(std::string_view nvidia_smi_output) {
  constexpr std::string_view kUuid = "UUID";
  int count = 0;
  for (size_t pos = nvidia_smi_output.find(kUuid); pos != std::string_view::npos;
       pos = nvidia_smi_output.find(kUuid, pos + kUuid.size())) {
    ++count;
  }
  return count;
}

absl::StatusOr<int> DetectCudaDeviceCount(absl::Duration timeout) {
  std::optional<std::string> listing = RunNvidiaSmiList(timeout);
  if (listing.has_value()) return CountUuids(*listing);
  return DeviceCountFromEnv();
}

}  // namespace shoal::orchestrator
