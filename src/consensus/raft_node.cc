// RaftNode over the C API of the Go archive (raftgo/): converts options and raft_configuration to
// raft.Config fields, bridges the state-machine and log callbacks, and translates the library's
// result codes into absl::Status. This file is the only one that includes the generated header.
#include "src/consensus/raft_node.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libshoal_raft.h"
#include "src/common/strings.h"

namespace shoal::consensus {
namespace {

// The payload that marks a "not the leader" refusal (IsNotLeader).
constexpr char kNotLeaderPayload[] = "type.shoal.dev/consensus.NotLeader";

Status NotLeader(const std::string& message) {
  Status status = absl::UnavailableError(message);
  status.SetPayload(kNotLeaderPayload, absl::Cord());
  return status;
}

using google::protobuf::Value;

enum class Unit { kMillis, kSeconds, kCount, kBool, kLogLevel };

struct ConfigKey {
  std::string_view name;
  Unit unit;
};

// The keys Jina's raft accepts (jina-semantics §5.6), named as raft.Config fields.
constexpr ConfigKey kConfigKeys[] = {
    {"HeartbeatTimeout", Unit::kMillis}, {"ElectionTimeout", Unit::kMillis},
    {"CommitTimeout", Unit::kMillis},    {"MaxAppendEntries", Unit::kCount},
    {"BatchApplyCh", Unit::kBool},       {"ShutdownOnRemove", Unit::kBool},
    {"TrailingLogs", Unit::kCount},      {"SnapshotInterval", Unit::kSeconds},
    {"SnapshotThreshold", Unit::kCount}, {"LeaderLeaseTimeout", Unit::kMillis},
    {"LogLevel", Unit::kLogLevel},       {"NoSnapshotRestoreOnStart", Unit::kBool},
};

constexpr std::string_view kLogLevels[] = {"TRACE",   "DEBUG", "INFO", "WARN",
                                           "WARNING", "ERROR", "OFF"};

// The text setField() in shoal_raft.go parses for one key, or InvalidArgument naming the key.
StatusOr<std::string> ConfigText(const ConfigKey& key, const Value& value) {
  const std::string where = absl::StrCat("raft_configuration.", AsAbsl(key.name));
  switch (key.unit) {
    case Unit::kMillis:
    case Unit::kSeconds:
    case Unit::kCount: {
      const double number = value.number_value();
      if (!value.has_number_value() || !std::isfinite(number) || number < 0 ||
          number > 9007199254740992.0 || std::trunc(number) != number) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected a whole number >= 0"));
      }
      const char* suffix = key.unit == Unit::kMillis ? "ms" : key.unit == Unit::kSeconds ? "s" : "";
      return absl::StrFormat("%d%s", static_cast<int64_t>(number), suffix);
    }
    case Unit::kBool:
      if (!value.has_bool_value()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected true or false"));
      }
      return std::string(value.bool_value() ? "true" : "false");
    case Unit::kLogLevel:
      for (std::string_view level : kLogLevels) {
        if (value.has_string_value() &&
            absl::EqualsIgnoreCase(AsAbsl(level), AsAbsl(value.string_value()))) {
          return std::string(level);
        }
      }
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected one of TRACE, DEBUG, INFO, WARN, ERROR, OFF"));
  }
  return std::string();
}

// raft.Config field names and values for raft_configuration.
Status ConfigFields(const google::protobuf::Struct& config, std::vector<std::string>* keys,
                    std::vector<std::string>* values) {
  // Sorted, so that the first bad key reported does not depend on the map's order.
  std::map<std::string, const Value*> sorted;
  for (const auto& [name, value] : config.fields()) sorted[name] = &value;
  for (const auto& [name, value] : sorted) {
    const ConfigKey* key = nullptr;
    for (const ConfigKey& known : kConfigKeys) {
      if (known.name == name) key = &known;
    }
    if (key == nullptr) {
      std::vector<absl::string_view> names;
      for (const ConfigKey& known : kConfigKeys) names.push_back(AsAbsl(known.name));
      return absl::InvalidArgumentError(
          absl::StrFormat("raft_configuration: unknown key '%s'; expected one of %s", name,
                          absl::StrJoin(names, ", ")));
    }
    SHOAL_ASSIGN_OR_RETURN(std::string text, ConfigText(*key, *value));
    // Raft 1.1.2 hands entries to its leader loop one at a time; there is no batching to enable.
    if (key->name == "BatchApplyCh") continue;
    keys->push_back(name);
    values->push_back(std::move(text));
  }
  return absl::OkStatus();
}

// Takes ownership of a malloc()ed C string from the library.
std::string TakeString(char* text) {
  if (text == nullptr) return std::string();
  std::string out(text);
  std::free(text);
  return out;
}

// The one translation of the library's result codes; takes ownership of `error`.
Status ToStatus(int code, char* error, std::string_view what) {
  const std::string message = absl::StrCat(AsAbsl(what), ": ", TakeString(error));
  switch (code) {
    case SHOAL_RAFT_OK:
      return absl::OkStatus();
    case SHOAL_RAFT_INVALID:
      return absl::InvalidArgumentError(message);
    case SHOAL_RAFT_NOT_LEADER:
      return NotLeader(absl::StrCat(AsAbsl(what), ": not the leader"));
    case SHOAL_RAFT_LEADERSHIP_LOST:
      return absl::UnavailableError(
          absl::StrCat(message, " (the outcome is unknown: the entry may still commit)"));
    case SHOAL_RAFT_TIMEOUT:
      return absl::DeadlineExceededError(
          absl::StrCat(message, " (the outcome is unknown: it may still take effect)"));
    case SHOAL_RAFT_SHUTDOWN:
      return absl::UnavailableError(absl::StrCat(AsAbsl(what), ": the raft node is shut down"));
    case SHOAL_RAFT_CANT_BOOTSTRAP:
      return absl::AlreadyExistsError(message);
    case SHOAL_RAFT_DAMAGED:
      return absl::DataLossError(message);
    case SHOAL_RAFT_IN_USE:
    case SHOAL_RAFT_UNSAFE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

int64_t Millis(absl::Duration timeout) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
}

// Pointers to the strings, for the library's string-array parameters.
std::vector<const char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<const char*> out;
  for (const std::string& s : strings) out.push_back(s.c_str());
  return out;
}

char* MallocedMessage(const Status& status) {
  if (status.ok()) return nullptr;
  const std::string text = status.ToString();
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

}  // namespace

bool IsNotLeader(const Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kNotLeaderPayload).has_value();
}

// The C callbacks; ctx is the RaftNode, alive until its handle is freed.
struct RaftNode::Callbacks {
  static const Options& Of(void* ctx) { return static_cast<RaftNode*>(ctx)->options_; }

  static shoal_raft_bytes Apply(void* ctx, uint64_t index, const void* data, size_t len) {
    const std::string response =
        Of(ctx).apply(index, std::string_view(static_cast<const char*>(data), len));
    if (response.empty()) return shoal_raft_bytes{nullptr, 0};
    void* out = std::malloc(response.size());
    std::memcpy(out, response.data(), response.size());
    return shoal_raft_bytes{out, response.size()};
  }
  static char* Snapshot(void* ctx, const char* path) {
    return MallocedMessage(Of(ctx).snapshot(path));
  }
  static char* Restore(void* ctx, const char* path) {
    return MallocedMessage(Of(ctx).restore(path));
  }
  static void Log(void* ctx, int level, const char* line, size_t len) {
    Of(ctx).log(static_cast<LogLevel>(level), std::string_view(line, len));
  }
  static void Damaged(void* ctx, const char* why) {
    if (Of(ctx).on_damaged) Of(ctx).on_damaged(why);
  }
};

RaftNode::RaftNode(Options options) : options_(std::move(options)), id_(options_.id) {}

StatusOr<std::unique_ptr<RaftNode>> RaftNode::Start(Options options) {
  const std::string what = absl::StrCat("starting raft node '", options.id, "'");
  if (options.id.empty() || !options.apply || !options.snapshot || !options.restore) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": an id and the apply, snapshot and restore callbacks are required"));
  }
  std::vector<std::string> keys, values;
  if (Status status = ConfigFields(options.raft_configuration, &keys, &values); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.message()));
  }
  if (!options.log) {
    options.log = [prefix = absl::StrCat("raft ", options.id, ": ")](LogLevel level,
                                                                     std::string_view line) {
      LogLine(level, absl::StrCat(prefix, AsAbsl(line)));
    };
  }
  std::unique_ptr<RaftNode> node(new RaftNode(std::move(options)));
  shoal_raft_callbacks callbacks{.ctx = node.get(),
                                 .apply = &Callbacks::Apply,
                                 .snapshot = &Callbacks::Snapshot,
                                 .restore = &Callbacks::Restore,
                                 .log = &Callbacks::Log,
                                 .damaged = &Callbacks::Damaged};
  std::vector<const char*> key_ptrs = CStrings(keys), value_ptrs = CStrings(values);
  char* error = nullptr;
  const int code = shoal_raft_start(
      node->options_.id.c_str(), node->options_.bind_address.c_str(),
      node->options_.advertise_address.c_str(), node->options_.data_dir.c_str(), key_ptrs.data(),
      value_ptrs.data(), keys.size(), node->options_.tls_certfile.c_str(),
      node->options_.tls_keyfile.c_str(), node->options_.tls_cafile.c_str(),
      node->options_.read_lease ? 1 : 0, &callbacks, &node->handle_, &error);
  if (code != SHOAL_RAFT_OK) {
    Status status = ToStatus(code, error, what);
    // Binding and disk errors come back as generic failures; a bind failure is the common one.
    if (status.code() == absl::StatusCode::kInternal &&
        absl::StrContains(status.message(), "bind")) {
      return absl::UnavailableError(status.message());
    }
    return status;
  }
  node->address_ = TakeString(shoal_raft_local_address(node->handle_));
  if (!node->options_.peers.empty()) {
    Status status = node->BootstrapGroup();
    if (!status.ok() && status.code() != absl::StatusCode::kAlreadyExists) {
      return Status(status.code(), absl::StrCat(what, ": ", status.message()));
    }
  }
  return node;
}

Status RaftNode::BootstrapGroup() {
  std::vector<std::string> ids, addresses;
  for (const auto& [id, address] : options_.peers) {
    ids.push_back(id);
    addresses.push_back(address);
  }
  std::vector<const char*> id_ptrs = CStrings(ids), address_ptrs = CStrings(addresses);
  char* error = nullptr;
  int joined = 0;
  const int code =
      shoal_raft_bootstrap_group(handle_, id_ptrs.data(), address_ptrs.data(), ids.size(),
                                 Millis(options_.bootstrap_wait), &joined, &error);
  return ToStatus(code, error, "bootstrapping the raft group");
}

StatusOr<std::vector<std::string>> RaftNode::ResetState(const std::string& data_dir) {
  char* moved = nullptr;
  char* error = nullptr;
  const int code = shoal_raft_reset_state(data_dir.c_str(), &moved, &error);
  const std::string paths = TakeString(moved);
  SHOAL_RETURN_IF_ERROR(
      ToStatus(code, error, absl::StrCat("resetting the Raft state in ", data_dir)));
  std::vector<std::string> out;
  for (absl::string_view path : absl::StrSplit(paths, '\n', absl::SkipEmpty())) {
    out.emplace_back(path);
  }
  return out;
}

Status RaftNode::Damaged() const {
  std::string why = TakeString(shoal_raft_damaged(handle_));
  if (why.empty()) return absl::OkStatus();
  return absl::DataLossError(why);
}

RaftNode::~RaftNode() {
  if (handle_ != 0) shoal_raft_free(handle_);
}

Status RaftNode::Bootstrap(const std::map<std::string, std::string>& peers) {
  std::vector<std::string> ids, addresses;
  for (const auto& [id, address] : peers) {
    ids.push_back(id);
    addresses.push_back(address);
  }
  std::vector<const char*> id_ptrs = CStrings(ids), address_ptrs = CStrings(addresses);
  char* error = nullptr;
  const int code =
      shoal_raft_bootstrap(handle_, id_ptrs.data(), address_ptrs.data(), ids.size(), &error);
  return ToStatus(code, error, "bootstrapping the raft cluster");
}

StatusOr<ApplyResult> RaftNode::Apply(std::string_view data, absl::Duration timeout) {
  ApplyResult result;
  shoal_raft_bytes response{nullptr, 0};
  char* error = nullptr;
  const int code = shoal_raft_apply(handle_, reinterpret_cast<const uint8_t*>(data.data()),
                                    data.size(), Millis(timeout), &result.index, &response, &error);
  if (code == SHOAL_RAFT_NOT_LEADER) {
    std::free(error);
    std::optional<Peer> leader = Leader();
    return NotLeader(leader ? absl::StrFormat("not the leader; the leader is '%s' at %s",
                                              leader->id, leader->address)
                            : std::string("not the leader; no leader is known"));
  }
  SHOAL_RETURN_IF_ERROR(ToStatus(code, error, "applying a raft entry"));
  if (response.data != nullptr) {
    result.response.assign(static_cast<const char*>(response.data), response.len);
    std::free(response.data);
  }
  return result;
}

Status RaftNode::Barrier(absl::Duration timeout) {
  char* error = nullptr;
  return ToStatus(shoal_raft_barrier(handle_, Millis(timeout), &error), error, "raft barrier");
}

Status RaftNode::VerifyLeader(absl::Duration timeout) {
  char* error = nullptr;
  return ToStatus(shoal_raft_verify_leader(handle_, Millis(timeout), &error), error,
                  "verifying raft leadership");
}

std::optional<uint64_t> RaftNode::ReadLeaseTerm() const {
  uint64_t term = 0;
  if (shoal_raft_read_lease(handle_, &term) == 0) return std::nullopt;
  return term;
}

Status RaftNode::AddVoter(std::string_view id, std::string_view address, absl::Duration timeout) {
  const std::string id_text(id), address_text(address);
  char* error = nullptr;
  const int code =
      shoal_raft_add_voter(handle_, id_text.c_str(), address_text.c_str(), Millis(timeout), &error);
  return ToStatus(code, error, absl::StrCat("adding raft voter '", id_text, "'"));
}

Status RaftNode::RemoveServer(std::string_view id, absl::Duration timeout) {
  const std::string id_text(id);
  char* error = nullptr;
  const int code = shoal_raft_remove_server(handle_, id_text.c_str(), Millis(timeout), &error);
  return ToStatus(code, error, absl::StrCat("removing raft server '", id_text, "'"));
}

Status RaftNode::TransferLeadership(absl::Duration timeout) {
  char* error = nullptr;
  const int code = shoal_raft_leadership_transfer(handle_, Millis(timeout), &error);
  return ToStatus(code, error, "transferring the raft leadership");
}

Status RaftNode::Snapshot() {
  char* error = nullptr;
  return ToStatus(shoal_raft_snapshot(handle_, &error), error, "raft snapshot");
}

bool RaftNode::IsLeader() const { return Stats().role == Role::kLeader; }

std::optional<Peer> RaftNode::Leader() const {
  char* id = nullptr;
  char* address = nullptr;
  shoal_raft_leader(handle_, &id, &address);
  Peer leader{.id = TakeString(id), .address = TakeString(address)};
  if (leader.address.empty()) return std::nullopt;
  return leader;
}

std::vector<Peer> RaftNode::Voters() const {
  std::vector<Peer> voters;
  for (absl::string_view line :
       absl::StrSplit(TakeString(shoal_raft_voters(handle_)), '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> id_address = absl::StrSplit(line, absl::MaxSplits('=', 1));
    voters.push_back(Peer{.id = id_address.first, .address = id_address.second});
  }
  return voters;
}

RaftStats RaftNode::Stats() const {
  shoal_raft_statistics raw{};
  shoal_raft_stats(handle_, &raw);
  RaftStats stats{.term = raw.term,
                  .last_log_index = raw.last_log_index,
                  .commit_index = raw.commit_index,
                  .applied_index = raw.applied_index,
                  .last_snapshot_index = raw.last_snapshot_index};
  switch (raw.role) {
    case SHOAL_RAFT_CANDIDATE:
      stats.role = Role::kCandidate;
      break;
    case SHOAL_RAFT_LEADER:
      stats.role = Role::kLeader;
      break;
    case SHOAL_RAFT_SHUT_DOWN:
      stats.role = Role::kShutdown;
      break;
    default:
      stats.role = Role::kFollower;
  }
  if (raw.last_contact_ms >= 0) stats.last_contact = absl::Milliseconds(raw.last_contact_ms);
  return stats;
}

Status RaftNode::Shutdown() {
  char* error = nullptr;
  return ToStatus(shoal_raft_shutdown(handle_, &error), error,
                  absl::StrCat("shutting down raft node '", id_, "'"));
}

}  // namespace shoal::consensus
