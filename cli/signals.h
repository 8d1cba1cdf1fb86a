// Turns SIGINT and SIGTERM into a graceful stop. The signals are blocked in every thread (create
// the watcher before any thread, so that the executor's threads inherit the mask) and taken by
// one waiting thread, which calls `on_stop` for each.
#ifndef WEIR_CLI_SIGNALS_H_
#define WEIR_CLI_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

#include <functional>
#include <thread>

namespace weir::cli {

class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  void Watch(std::function<void()> on_stop) {
    thread_ = std::thread([this, on_stop = std::move(on_stop)] {
      int signal = 0;
      while (sigwait(&set_, &signal) == 0) {
        if (signal == SIGUSR1) return;  // the watcher is being destroyed
        on_stop();
      }
    });
  }

  ~SignalWatcher() {
    if (thread_.joinable()) {
      pthread_kill(thread_.native_handle(), SIGUSR1);
      thread_.join();
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t previous_;
  std::thread thread_;
};

}  // namespace weir::cli

#endif  // WEIR_CLI_SIGNALS_H_
