// gRPC 1.51 runs the callbacks of client calls on one process-wide completion queue with its
// own threads when its poller is not a background one (epoll1, Linux's). Each channel that has
// made a callback call holds a reference to that queue, and the channel that lets go of the
// last one shuts the queue down and joins its threads. When that channel is destroyed on one of
// those threads (a reactor whose OnDone drops the last reference to its channel, once every
// other holder is gone), the thread joins itself and the queue is freed twice. HoldCallbackQueue
// takes one reference for the life of the process, so the count never falls to zero.
#ifndef SHOAL_RPC_CALLBACK_QUEUE_H_
#define SHOAL_RPC_CALLBACK_QUEUE_H_

namespace shoal::rpc {

// Idempotent, thread-safe and non-blocking; the reference is held when it returns.
// rpc::CreateChannel calls it.
void HoldCallbackQueue();

}  // namespace shoal::rpc

#endif  // SHOAL_RPC_CALLBACK_QUEUE_H_
