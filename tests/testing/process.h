// Waiting for processes that are not our children, in tests.
#ifndef WEIR_TESTS_TESTING_PROCESS_H_
#define WEIR_TESTS_TESTING_PROCESS_H_

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weir::testing {

// Whether `pid` is still alive after waiting (through a pidfd, which works for processes that
// are not our children) up to five seconds for it to exit. A SIGKILL takes effect a moment
// after it is sent.
inline bool StillAliveAfterWaiting(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;  // already gone and reaped
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, 5000);
  ::close(fd);
  return ready == 0;
}

}  // namespace weir::testing

#endif  // WEIR_TESTS_TESTING_PROCESS_H_
