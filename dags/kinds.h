// The task kinds a DAG may name, and the shape of each kind's own keys. The loader uses this to
// reject unknown kinds and keys and malformed kind config; tasks/ implements the kinds.
#ifndef WEIR_DAGS_KINDS_H_
#define WEIR_DAGS_KINDS_H_

#include <string>
#include <string_view>
#include <vector>

#include "dags/value.h"

namespace weir::dags {

struct Diagnostic;

// Kinds this build can run, e.g. {"shell"}.
const std::vector<std::string>& KnownKinds();

// The keys a task of `kind` may have besides the common ones (empty for an unknown kind).
const std::vector<std::string>& KindKeys(std::string_view kind);

// Checks `config` (a map of the kind's own keys) and appends a Diagnostic per problem.
void ValidateKindConfig(std::string_view kind, const Value& config,
                        std::vector<Diagnostic>* errors);

// Appends "unknown key 'K' in WHAT (did you mean ...?)" for each key of `map` not in
// `allowed`, at the key's position. The loader checks the DAG's own keys with it too.
void CheckKnownKeys(const Value& map, const std::vector<std::string>& allowed,
                    std::string_view what, std::vector<Diagnostic>* errors);

// Whether the string at `path` ("script") of a kind's config is run by a shell, so that params
// rendered into it must be shell-quoted.
bool IsShellText(std::string_view kind, std::string_view key);

}  // namespace weir::dags

#endif  // WEIR_DAGS_KINDS_H_
