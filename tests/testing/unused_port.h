// A TCP port on 127.0.0.1 that nothing listens on: bound, then closed, so that a test can name
// it (a peer that is down, a port to start a replica on).
#ifndef SHOAL_TESTS_TESTING_UNUSED_PORT_H_
#define SHOAL_TESTS_TESTING_UNUSED_PORT_H_

namespace shoal::testing {

// 0 when no socket could be bound.
int UnusedPort();

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_TESTING_UNUSED_PORT_H_
