// Logging setup for weir's own messages (not task logs, which go to per-attempt files).
#ifndef WEIR_COMMON_LOGGING_H_
#define WEIR_COMMON_LOGGING_H_

namespace weir {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Sends weir's log to stderr at `level` and above. Call once, early in main.
void SetupLogging(LogLevel level);

}  // namespace weir

#endif  // WEIR_COMMON_LOGGING_H_
