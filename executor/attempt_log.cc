#include "executor/attempt_log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace weir::executor {

AttemptLog::AttemptLog(int fd, AttemptLogOptions options)
    : fd_(fd), options_(std::move(options)), stream_(options_.mask) {
  if (options_.limit_bytes > 0) {
    options_.tail_bytes = std::min(options_.tail_bytes, options_.limit_bytes / 2);
  }
  head_bytes_ = options_.limit_bytes == 0 ? UINT64_MAX : options_.limit_bytes - options_.tail_bytes;
}

AttemptLog::~AttemptLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AttemptLog::Write(std::string_view output) {
  masked_.clear();
  stream_.Write(output, &masked_);
  Keep(masked_);
}

void AttemptLog::Keep(std::string_view masked) {
  if (written_ < head_bytes_) {
    std::size_t now =
        static_cast<std::size_t>(std::min<std::uint64_t>(masked.size(), head_bytes_ - written_));
    Append(masked.substr(0, now));
    written_ += now;
    masked.remove_prefix(now);
  }
  if (masked.empty()) return;
  tail_.append(masked);
  // Trimmed when twice its size, so that each byte is moved about once.
  if (tail_.size() > 2 * options_.tail_bytes) {
    std::size_t excess = tail_.size() - options_.tail_bytes;
    dropped_ += excess;
    tail_.erase(0, excess);
  }
}

void AttemptLog::Append(std::string_view text) {
  if (text.empty()) return;
  if (!error_.empty()) {
    dropped_ += text.size();
    return;
  }
  while (!text.empty()) {
    ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::strerror(n < 0 ? errno : EIO);
      dropped_ += text.size();
      return;
    }
    ends_line_ = text[static_cast<std::size_t>(n) - 1] == '\n';
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

void AttemptLog::Finish(const std::vector<std::string>& notes) {
  if (fd_ < 0) return;
  masked_.clear();
  stream_.Finish(&masked_);
  Keep(masked_);
  if (tail_.size() > options_.tail_bytes) {
    dropped_ += tail_.size() - options_.tail_bytes;
    tail_.erase(0, tail_.size() - options_.tail_bytes);
  }
  if (dropped_ > 0 && error_.empty()) {
    Append(
        fmt::format("{}weir: {} bytes of output dropped here: a log keeps the first {} and the "
                    "last {} bytes of an attempt's output\n",
                    ends_line_ ? "" : "\n", dropped_, head_bytes_, options_.tail_bytes));
  }
  Append(tail_);
  for (const std::string& note : notes) Append((ends_line_ ? "" : "\n") + note + "\n");
  ::close(fd_);
  fd_ = -1;
}

}  // namespace weir::executor
