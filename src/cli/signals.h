// Stop signals for the long-running commands: SIGINT/SIGTERM are blocked in every thread and
// taken synchronously by the main thread.
#ifndef SHOAL_CLI_SIGNALS_H_
#define SHOAL_CLI_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

namespace shoal::cli {

// Call before starting any thread: threads inherit the blocked mask.
inline sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Blocks until SIGINT or SIGTERM; returns which.
inline int WaitForStopSignal(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace shoal::cli

#endif  // SHOAL_CLI_SIGNALS_H_
