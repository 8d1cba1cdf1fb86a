// A command to start as a child process: what tasks/ prepares and executor/ runs.
#ifndef WEIR_COMMON_PROCESS_H_
#define WEIR_COMMON_PROCESS_H_

#include <string>
#include <vector>

namespace weir {

struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no slash
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  std::string cwd;                // working directory; empty: inherit
};

}  // namespace weir

#endif  // WEIR_COMMON_PROCESS_H_
