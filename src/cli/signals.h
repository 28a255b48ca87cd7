// Stop signals for the long-running commands: SIGINT/SIGTERM run a handler that writes the signal
// number to a pipe, and the main thread waits on that pipe. A handler, rather than a mask blocked
// in every thread and sigwait(): threads this process does not create (the Go runtime inside the
// Raft library starts its own before main) keep the signals unblocked, and a signal delivered to
// one of them with the default action would end the process at once.
#ifndef SHOAL_CLI_SIGNALS_H_
#define SHOAL_CLI_SIGNALS_H_

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace shoal::cli {

namespace signals_internal {
inline int write_end = -1;

inline void OnStopSignal(int signal) {
  const int saved = errno;
  const unsigned char number = static_cast<unsigned char>(signal);
  // Non-blocking: a full pipe already holds a stop request.
  [[maybe_unused]] ssize_t written = write(write_end, &number, 1);
  errno = saved;
}
}  // namespace signals_internal

// Call once, early in main's command. Returns the pipe's read end for WaitForStopSignal, or -1
// when the pipe cannot be made (the signals then keep their default action). With `reload`,
// SIGHUP comes through the pipe too.
inline int InstallStopSignals(bool reload = false) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  signals_internal::write_end = fds[1];
  struct sigaction action {};
  action.sa_handler = &signals_internal::OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (reload) sigaction(SIGHUP, &action, nullptr);
  return fds[0];
}

// Blocks until SIGINT, SIGTERM (or SIGHUP, see InstallStopSignals) arrived; returns which
// (SIGTERM when it cannot tell).
inline int WaitForStopSignal(int read_end) {
  if (read_end < 0) {
    pause();
    return SIGTERM;
  }
  const int flags = fcntl(read_end, F_GETFL);
  fcntl(read_end, F_SETFL, flags & ~O_NONBLOCK);
  unsigned char number = 0;
  while (true) {
    const ssize_t n = read(read_end, &number, 1);
    if (n == 1) return number;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;
  }
}

}  // namespace shoal::cli

#endif  // SHOAL_CLI_SIGNALS_H_
