// Exit codes of `shoal executor` that its supervisor acts on.
#ifndef SHOAL_COMMON_EXIT_CODES_H_
#define SHOAL_COMMON_EXIT_CODES_H_

namespace shoal {

// The replica's Raft state on disk is damaged (unreadable, or a log entry failed its checksum):
// restarting cannot help. Its state must be reset (`shoal raft reset-state`) so that it rejoins
// its group from a peer; the supervisor reports it and leaves it stopped.
inline constexpr int kExitDamagedState = 3;

}  // namespace shoal

#endif  // SHOAL_COMMON_EXIT_CODES_H_
