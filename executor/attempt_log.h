// The log file of one attempt, as the executor writes it: the task's output with its secrets
// masked, bounded in size. Past the limit only the last `tail_bytes` are kept (in memory) and
// written at the end, after a line saying how much was dropped: a task that floods its output
// cannot fill the disk, and the end of its output, where errors are, survives.
//
//   AttemptLog log(fd, {.limit_bytes = 64 << 20, .mask = mask});
//   log.Write(chunk);                  // as the output arrives
//   log.Finish({"weir: killed ..."});  // then the file is complete and closed
//
// Thread-safety: none; the executor touches one from its child's strand only.
#ifndef WEIR_EXECUTOR_ATTEMPT_LOG_H_
#define WEIR_EXECUTOR_ATTEMPT_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret_mask.h"

namespace weir::executor {

struct AttemptLogOptions {
  std::uint64_t limit_bytes = 0;           // the most of the output a log keeps; 0: no limit
  std::uint64_t tail_bytes = 0;            // of which the last part kept (at most half the limit)
  std::shared_ptr<const SecretMask> mask;  // null: nothing masked
};

class AttemptLog {
 public:
  // Takes ownership of `fd`, a file open for appending.
  AttemptLog(int fd, AttemptLogOptions options);
  ~AttemptLog();
  AttemptLog(const AttemptLog&) = delete;
  AttemptLog& operator=(const AttemptLog&) = delete;

  void Write(std::string_view output);
  // Writes what was held back, the note of what was dropped, the kept tail and `notes` (weir's
  // own lines, one each), and closes the file. Nothing is written afterwards.
  void Finish(const std::vector<std::string>& notes = {});

  std::uint64_t dropped_bytes() const { return dropped_; }
  // The first write that failed (a full disk), if any: later output was dropped.
  const std::string& error() const { return error_; }

 private:
  void Keep(std::string_view masked);
  void Append(std::string_view text);

  int fd_;
  AttemptLogOptions options_;
  MaskingStream stream_;
  std::uint64_t head_bytes_;   // what may be written as it comes
  std::uint64_t written_ = 0;  // of the output, into the file so far
  std::uint64_t dropped_ = 0;
  std::string tail_;  // the latest output past the head: up to twice tail_bytes, trimmed
  std::string masked_;
  std::string error_;
  bool ends_line_ = true;  // the file's last byte written is a line end (or none was)
};

}  // namespace weir::executor

#endif  // WEIR_EXECUTOR_ATTEMPT_LOG_H_
