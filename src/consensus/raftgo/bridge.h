/* The C side of the boundary between RaftNode (C++) and hashicorp/raft (Go): the callback table,
 * the result codes and the types that the cgo-generated header shares with C++. Only
 * src/consensus/raft_node.cc includes it (through the generated header). */
#ifndef SHOAL_CONSENSUS_RAFTGO_BRIDGE_H_
#define SHOAL_CONSENSUS_RAFTGO_BRIDGE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* const-qualified aliases, so that the generated header declares const parameters. */
typedef const char shoal_raft_cchar;
typedef const char* const shoal_raft_cstrings;
typedef const uint8_t shoal_raft_cbyte;

/* Bytes in C memory from malloc(); whoever receives them frees them with free(). */
typedef struct shoal_raft_bytes {
  void* data;
  size_t len;
} shoal_raft_bytes;

/* Called on threads owned by the Go runtime. apply, snapshot and restore are serialized (the
 * raft FSM goroutine, or the starting thread for a restore at start-up); log may come from any
 * thread at any time until shoal_raft_free returns. None of them may block for long. */
typedef struct shoal_raft_callbacks {
  void* ctx;
  /* `data` is valid only during the call. Returns the response, malloc()ed, or {NULL, 0}. */
  shoal_raft_bytes (*apply)(void* ctx, uint64_t index, const void* data, size_t len);
  /* Writes the state machine to `path`. Returns NULL, or a malloc()ed error message. */
  char* (*snapshot)(void* ctx, const char* path);
  /* Replaces the state machine with the contents of `path`. As snapshot for the result. */
  char* (*restore)(void* ctx, const char* path);
  /* One log line without its level and newline; level is a SHOAL_RAFT_LOG_* value. */
  void (*log)(void* ctx, int level, const char* line, size_t len);
  /* Once, when a committed entry fails its checksum: nothing more is applied. `why` names the
   * entry and the recovery; valid only during the call. May be NULL. */
  void (*damaged)(void* ctx, const char* why);
} shoal_raft_callbacks;

enum {
  SHOAL_RAFT_LOG_DEBUG = 0,
  SHOAL_RAFT_LOG_INFO = 1,
  SHOAL_RAFT_LOG_WARNING = 2,
  SHOAL_RAFT_LOG_ERROR = 3,
};

/* Result codes of the exported functions. Every failure also sets *err to a malloc()ed message
 * when the function takes `err`. */
enum {
  SHOAL_RAFT_OK = 0,
  SHOAL_RAFT_ERROR = 1,           /* anything else: disk, network, bad state */
  SHOAL_RAFT_INVALID = 2,         /* a bad argument or raft_configuration value */
  SHOAL_RAFT_NOT_LEADER = 3,      /* the call needs the leader */
  SHOAL_RAFT_LEADERSHIP_LOST = 4, /* lost leadership before the entry committed: outcome unknown */
  SHOAL_RAFT_TIMEOUT = 5,         /* not enqueued or not done in time: outcome unknown */
  SHOAL_RAFT_SHUTDOWN = 6,        /* the node is shut down */
  SHOAL_RAFT_CANT_BOOTSTRAP = 7,  /* the node already has state: bootstrap is a no-op */
  SHOAL_RAFT_DAMAGED = 8,         /* the state on disk cannot be read: reset it, rejoin */
  SHOAL_RAFT_IN_USE = 9,          /* another process holds the state's folder */
  SHOAL_RAFT_UNSAFE = 10,         /* no safe choice: bootstrapping could replace a group's data */
};

/* Role values of shoal_raft_stats.role, as raft.RaftState. */
enum {
  SHOAL_RAFT_FOLLOWER = 0,
  SHOAL_RAFT_CANDIDATE = 1,
  SHOAL_RAFT_LEADER = 2,
  SHOAL_RAFT_SHUT_DOWN = 3,
};

typedef struct shoal_raft_stats {
  int role;
  uint64_t term;
  uint64_t last_log_index;
  uint64_t commit_index;
  uint64_t applied_index;
  uint64_t last_snapshot_index;
  int64_t last_contact_ms; /* -1: never heard from a leader; 0 on the leader */
} shoal_raft_statistics;

/* Trampolines (bridge.c): Go cannot call C function pointers. */
shoal_raft_bytes shoal_raft_call_apply(const shoal_raft_callbacks* cb, uint64_t index,
                                       const void* data, size_t len);
char* shoal_raft_call_snapshot(const shoal_raft_callbacks* cb, const char* path);
char* shoal_raft_call_restore(const shoal_raft_callbacks* cb, const char* path);
void shoal_raft_call_log(const shoal_raft_callbacks* cb, int level, const char* line, size_t len);
void shoal_raft_call_damaged(const shoal_raft_callbacks* cb, const char* why);

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_CONSENSUS_RAFTGO_BRIDGE_H_ */
