// `shoal raft add|remove`: changes the members of a running stateful shard's Raft group through
// any of its replicas (the leader takes the change). For groups the orchestrator does not manage:
// a Kubernetes StatefulSet scaled down leaves its removed pods' members in the group until they
// are removed here (pods added by scaling up join by themselves). The leader refuses adding an
// address that does not accept connections, and removing below a quorum without --force.
// `shoal raft reset-state`: moves a stopped member's damaged Raft state aside so that it rejoins
// its group from a peer at its next start.
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "src/cli/commands.h"
#include "src/consensus/raft_node.h"
#include "src/rpc/auth.h"
#include "src/rpc/membership_client.h"

namespace shoal::cli {
namespace {

struct RaftFlags {
  std::string id;
  std::string address;  // add only: the member's Raft address (host:port its peers dial)
  std::string via;      // gRPC host:port of the group's replicas, comma-separated
  int timeout_ms = 30000;
  bool force = false;  // remove only: even below a quorum
  TlsFiles tls;
  std::string auth_token_file;
};

int RunRaft(const RaftFlags& flags, bool add) {
  StatusOr<std::string> token = rpc::LoadAuthToken(flags.auth_token_file);
  if (!token.ok()) {
    std::cerr << "shoal raft: " << token.status().message() << "\n";
    return 2;
  }
  rpc::ChannelSecurity security{
      .tls = flags.tls.enabled(), .files = flags.tls, .auth_token = *token};
  std::vector<std::string> replicas;
  for (absl::string_view via : absl::StrSplit(flags.via, ',', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&via, "grpcs://")) security.tls = true;
    absl::ConsumePrefix(&via, "grpc://");
    replicas.emplace_back(via);
  }
  const absl::Duration timeout = absl::Milliseconds(flags.timeout_ms);
  Status status = add ? rpc::AddVoterVia(replicas, flags.id, flags.address, timeout, security)
                      : rpc::RemoveServerVia(replicas, flags.id, timeout, security, flags.force);
  if (!status.ok()) {
    std::cerr << "shoal raft: " << status.message() << "\n";
    return 1;
  }
  std::cout << "member '" << flags.id << "' " << (add ? "added" : "removed") << "\n";
  return 0;
}

struct ResetFlags {
  std::string raft_dir;   // the folder holding raft.db
  std::string workspace;  // or the replica's workspace: <workspace>/raft
};

int RunReset(const ResetFlags& flags) {
  const std::string dir = !flags.raft_dir.empty() ? flags.raft_dir : flags.workspace + "/raft";
  StatusOr<std::vector<std::string>> moved = consensus::RaftNode::ResetState(dir);
  if (!moved.ok()) {
    std::cerr << "shoal raft reset-state: " << moved.status().message() << "\n";
    return 1;
  }
  for (const std::string& path : *moved) std::cout << "moved aside: " << path << "\n";
  std::cout << (moved->empty() ? "no Raft state in " : "reset: the member rejoins its group ")
            << (moved->empty() ? dir : "from a peer at its next start") << "\n";
  return 0;
}

void AddCommonOptions(CLI::App* sub, RaftFlags* flags) {
  sub->add_option("--id", flags->id, "The member's Raft ID")->required();
  sub->add_option("--via", flags->via,
                  "gRPC host:port of the group's replicas, comma-separated (any of them will do)")
      ->required();
  sub->add_option("--timeout", flags->timeout_ms,
                  "Milliseconds to wait for a leader to take the change")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  AddCallerOptions(sub, &flags->tls, &flags->auth_token_file);
}

}  // namespace

Command AddRaftCommand(CLI::App& app) {
  auto flags = std::make_shared<RaftFlags>();
  auto add = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("raft", "Change the members of a stateful shard's Raft group");
  sub->require_subcommand(1);
  CLI::App* add_sub = sub->add_subcommand("add", "Add a voting member");
  AddCommonOptions(add_sub, flags.get());
  add_sub->add_option("--address", flags->address, "host:port the other members dial")->required();
  add_sub->callback([add] { *add = true; });
  CLI::App* remove_sub = sub->add_subcommand("remove", "Remove a member");
  AddCommonOptions(remove_sub, flags.get());
  remove_sub->add_flag("--force", flags->force,
                       "Remove even when fewer voters than a quorum of the current "
                       "configuration would remain (the leader refuses that otherwise)");
  auto reset = std::make_shared<ResetFlags>();
  CLI::App* reset_sub = sub->add_subcommand(
      "reset-state",
      "Move a stopped member's damaged Raft state aside (raft.db.corrupt-<time>, never "
      "deleted) so that it rejoins its group from a peer's snapshot at its next start");
  auto* raft_dir = reset_sub->add_option("--raft-dir", reset->raft_dir,
                                         "The folder holding the member's raft.db");
  auto* workspace = reset_sub->add_option("--workspace", reset->workspace,
                                          "The replica's workspace (its Raft state is in raft/)");
  raft_dir->excludes(workspace);
  reset_sub->require_option(1);
  return {sub, [flags, add, reset, reset_sub] {
            return reset_sub->parsed() ? RunReset(*reset) : RunRaft(*flags, *add);
          }};
}

}  // namespace shoal::cli
