/* Trampolines from Go to the C callbacks of RaftNode: cgo can call C functions but not C function
 * pointers. */
#include "bridge.h"

shoal_raft_bytes shoal_raft_call_apply(const shoal_raft_callbacks* cb, uint64_t index,
                                       const void* data, size_t len) {
  return cb->apply(cb->ctx, index, data, len);
}

char* shoal_raft_call_snapshot(const shoal_raft_callbacks* cb, const char* path) {
  return cb->snapshot(cb->ctx, path);
}

char* shoal_raft_call_restore(const shoal_raft_callbacks* cb, const char* path) {
  return cb->restore(cb->ctx, path);
}

void shoal_raft_call_log(const shoal_raft_callbacks* cb, int level, const char* line, size_t len) {
  cb->log(cb->ctx, level, line, len);
}

void shoal_raft_call_damaged(const shoal_raft_callbacks* cb, const char* why) {
  if (cb->damaged != NULL) cb->damaged(cb->ctx, why);
}
