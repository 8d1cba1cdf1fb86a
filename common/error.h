// Expected failures are values: every fallible function returns Result<T>, an
// std::expected<T, Error>. Exceptions from libraries stop at module borders and are turned into
// Errors there. An Error's code tells the caller what to do about it; its message is one line a
// user can act on ("dags/a.yaml:3:5: unknown key 'retires' (did you mean 'retries'?)").
#ifndef WEIR_COMMON_ERROR_H_
#define WEIR_COMMON_ERROR_H_

#include <expected>
#include <string>
#include <utility>

namespace weir {

enum class ErrorCode {
  kInvalidArgument,     // The input is wrong (YAML, flag, body). Fix it; retrying won't help.
  kNotFound,            // A named thing (DAG, run, task, file) does not exist.
  kAlreadyExists,       // Creating something that is already there.
  kFailedPrecondition,  // The current state forbids it (e.g. another scheduler holds the lease).
  kUnavailable,         // Transient (the database is busy). Retry with backoff.
  kIo,                  // The OS refused (permissions, disk full). Fix the environment.
  kInternal,            // A bug in weir. Report it.
};

// Name of the code for messages and JSON ("invalid_argument").
const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // The exit status a CLI command returns for this error: 2 for bad input, 1 otherwise.
  int ExitCode() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for `return Fail(ErrorCode::kNotFound, "...")` inside a Result-returning function.
inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace weir

#endif  // WEIR_COMMON_ERROR_H_
