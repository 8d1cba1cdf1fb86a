// The config file: what one weir home is set up with, beside its DAGs. It is HOME/weir.yaml,
// or the file $WEIR_CONFIG names, and holds what must not be written in a DAG file: the API's
// tokens and the secrets every task gets, each read from an environment variable or a file (the
// value itself is accepted only when no one else can read the config file).
//
//   # .weir/weir.yaml
//   api:
//     tokens:
//       ci: { env: WEIR_CI_TOKEN }
//       alice: { file: /run/secrets/weir-alice }
//   secrets:
//     DB_PASSWORD: { env: DB_PASSWORD }
//
//   auto config = dags::LoadConfig(home);             // no file: an empty Config
//   for (const auto& [name, source] : config->api_tokens) ReadSecret(source, ...);
//
// Thread-safety: the functions are reentrant.
#ifndef WEIR_DAGS_CONFIG_H_
#define WEIR_DAGS_CONFIG_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "dags/value.h"

namespace weir::dags {

struct Diagnostic;

// Where a secret's value comes from, so that files never hold it: `{ env: NAME }` or
// `{ file: PATH }` (relative to the folder of the file that says so).
struct SecretSource {
  enum class Kind { kEnv, kFile, kValue };
  Kind kind = Kind::kEnv;
  std::string ref;  // the variable's name, the file's absolute path, or (kValue) the value
  SourceLocation loc;
};

// Reads a secret source at `where` (e.g. "api.tokens.ci"), written in a file in folder `base`.
// A plain string is the value itself only with `allow_value`. Records what is wrong in `errors`.
std::optional<SecretSource> ParseSecretSource(const Value& value, std::string_view where,
                                              const std::filesystem::path& base, bool allow_value,
                                              std::vector<Diagnostic>* errors);

// The value now. The variable must be set and not empty; the file readable, not empty and at
// most 64 KiB, its one trailing line end dropped. Errors name `where` and the source, never a
// value.
[[nodiscard]] Result<std::string> ReadSecret(const SecretSource& source, std::string_view where);

// Named secret sources, in file order.
using SecretSources = std::vector<std::pair<std::string, SecretSource>>;

// Reads a `secrets:` map (at `where`) of environment variable names to sources: a name is a
// variable's name, not WEIR_*, since each secret reaches a task as the variable of its name.
SecretSources ParseSecrets(const Value& secrets, std::string_view where,
                           const std::filesystem::path& base, bool allow_value,
                           std::vector<Diagnostic>* errors);

// Adds the value of each secret that can be read now to ProcessSecrets (common/secret_mask.h),
// so that this process masks it in what it records and serves. One that cannot be read is
// skipped: a task that needs it fails, saying why.
void MaskReadableSecrets(const SecretSources& secrets);

struct Config {
  std::filesystem::path file;  // the file read; empty when there is none
  SecretSources api_tokens;    // name -> source
  SecretSources secrets;       // every task's: variable name -> source
};

// The home's config: $WEIR_CONFIG when set and not empty (then the file must exist), else
// HOME/weir.yaml when it exists, else an empty Config. Any problem is a kInvalidArgument whose
// message is the first one as "file:line:col: reason".
[[nodiscard]] Result<Config> LoadConfig(const std::filesystem::path& home);
[[nodiscard]] Result<Config> LoadConfigFile(const std::filesystem::path& file);

}  // namespace weir::dags

#endif  // WEIR_DAGS_CONFIG_H_
