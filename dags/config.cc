#include "dags/config.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/secret_mask.h"
#include "common/strings.h"
#include "dags/dags.h"

namespace weir::dags {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxSecretBytes = 64 << 10;

bool IsTokenName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '@';
  });
}

bool IsEnvName(std::string_view name) {
  return !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_';
         });
}

// Checks that `map` has only `known` keys; records the others.
void CheckKeys(const Value& map, std::string_view where,
               std::initializer_list<std::string_view> known, std::vector<Diagnostic>* errors) {
  for (const auto& [key, value] : map.AsMap()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string names;
    for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    errors->push_back({value.key_loc, fmt::format("{}unknown key '{}' (known: {})",
                                                  where.empty() ? "" : std::string(where) + ": ",
                                                  Printable(key, 40), names)});
  }
}

// Reads a regular file of at most `max_bytes`. Opened without blocking, so that a FIFO or a
// device named by mistake is refused instead of waited on.
struct SmallFile {
  enum class Problem { kNone, kOpen, kNotRegular, kTooBig, kRead };
  Problem problem = Problem::kNone;
  int error = 0;    // errno, for kOpen and kRead
  mode_t mode = 0;  // the file's permission bits
  std::string text;
};

SmallFile ReadSmallFile(const std::filesystem::path& path, std::size_t max_bytes) {
  SmallFile file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return {SmallFile::Problem::kOpen, errno, 0, {}};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    file.problem = SmallFile::Problem::kNotRegular;
  } else if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    file.problem = SmallFile::Problem::kTooBig;
  }
  file.mode = st.st_mode & 07777;
  char buffer[4096];
  while (file.problem == SmallFile::Problem::kNone) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file = {SmallFile::Problem::kRead, errno, 0, {}};
    if (n <= 0) break;
    file.text.append(buffer, static_cast<std::size_t>(n));
    if (file.text.size() > max_bytes) file.problem = SmallFile::Problem::kTooBig;  // it grew
  }
  ::close(fd);
  return file;
}

class ConfigReader {
 public:
  ConfigReader(std::filesystem::path base, std::vector<Diagnostic>* errors)
      : base_(std::move(base)), errors_(errors) {}

  Config Read(const Value& root) {
    Config config;
    if (root.is_null()) return config;
    if (!root.is_map()) {
      Error(root, fmt::format("the config file must be a map of settings, not {}",
                              Value::TypeName(root.type())));
      return config;
    }
    CheckKeys(root, "", {"api", "secrets"}, errors_);
    if (const Value* api = root.Find("api"); api != nullptr && !api->is_null()) {
      if (!api->is_map()) {
        Error(*api, fmt::format("api: expected a map, not {}", Value::TypeName(api->type())));
      } else {
        CheckKeys(*api, "api", {"tokens"}, errors_);
        if (const Value* tokens = api->Find("tokens")) ReadTokens(*tokens, &config);
      }
    }
    if (const Value* secrets = root.Find("secrets")) {
      config.secrets = ParseSecrets(*secrets, "secrets", base_, true, errors_);
    }
    return config;
  }

 private:
  void ReadTokens(const Value& tokens, Config* config) {
    if (tokens.is_null()) return;
    if (!tokens.is_map()) {
      Error(tokens, fmt::format("api.tokens: expected a map of name: {{ env: VARIABLE }} or "
                                "{{ file: PATH }}, not {}",
                                Value::TypeName(tokens.type())));
      return;
    }
    for (const auto& [name, value] : tokens.AsMap()) {
      if (!IsTokenName(name)) {
        errors_->push_back(
            {value.key_loc, fmt::format("api.tokens: '{}' is not a token name (letters, digits, "
                                        "'_', '-', '.' and '@', at most 64)",
                                        Printable(name, 40))});
        continue;
      }
      const std::string where = "api.tokens." + name;
      if (auto source = ParseSecretSource(value, where, base_, true, errors_)) {
        config->api_tokens.emplace_back(name, std::move(*source));
      }
    }
  }

  void Error(const Value& at, std::string message) {
    errors_->push_back({at.loc, std::move(message)});
  }

  std::filesystem::path base_;
  std::vector<Diagnostic>* errors_;
};

}  // namespace

SecretSources ParseSecrets(const Value& secrets, std::string_view where,
                           const std::filesystem::path& base, bool allow_value,
                           std::vector<Diagnostic>* errors) {
  SecretSources out;
  if (secrets.is_null()) return out;
  if (!secrets.is_map()) {
    errors->push_back({secrets.loc, fmt::format("{}: expected a map of VARIABLE: {{ env: NAME }} "
                                                "or {{ file: PATH }}, not {}",
                                                where, Value::TypeName(secrets.type()))});
    return out;
  }
  for (const auto& [name, value] : secrets.AsMap()) {
    if (!IsEnvName(name) || name.size() > 128) {
      errors->push_back(
          {value.key_loc, fmt::format("{}: '{}' is not a variable's name (letters, digits and "
                                      "'_', not starting with a digit, at most 128)",
                                      where, Printable(name, 40))});
    } else if (name.starts_with("WEIR_")) {
      errors->push_back(
          {value.key_loc, fmt::format("{}: '{}': WEIR_ variables are weir's own", where, name)});
    } else if (auto source = ParseSecretSource(value, fmt::format("{}.{}", where, name), base,
                                               allow_value, errors)) {
      out.emplace_back(name, std::move(*source));
    }
  }
  return out;
}

void MaskReadableSecrets(const SecretSources& secrets) {
  for (const auto& [name, source] : secrets) {
    if (auto value = ReadSecret(source, name)) ProcessSecrets::Instance().Add(*value);
  }
}

std::optional<SecretSource> ParseSecretSource(const Value& value, std::string_view where,
                                              const std::filesystem::path& base, bool allow_value,
                                              std::vector<Diagnostic>* errors) {
  const std::string expected = allow_value ? "{ env: VARIABLE }, { file: PATH } or the value itself"
                                           : "{ env: VARIABLE } or { file: PATH }";
  auto bad = [&](const SourceLocation& loc, std::string why) -> std::optional<SecretSource> {
    errors->push_back({loc, fmt::format("{}: {}", where, why)});
    return std::nullopt;
  };
  if (value.is_string() && allow_value) {
    if (value.AsString().empty()) return bad(value.loc, "the value is empty");
    return SecretSource{SecretSource::Kind::kValue, value.AsString(), value.loc};
  }
  if (!value.is_map() || value.AsMap().size() != 1) {
    return bad(value.loc, fmt::format("expected {}", expected));
  }
  const auto& [key, ref] = value.AsMap().front();
  if (key != "env" && key != "file") {
    return bad(ref.key_loc,
               fmt::format("unknown source '{}' (expected {})", Printable(key, 40), expected));
  }
  if (!ref.is_string() || ref.AsString().empty()) {
    return bad(ref.loc, fmt::format("{}: expected {}", key,
                                    key == "env" ? "a variable's name" : "a file's path"));
  }
  if (key == "env") {
    if (!IsEnvName(ref.AsString())) {
      return bad(ref.loc, fmt::format("env: '{}' is not a variable's name (letters, digits and "
                                      "'_', not starting with a digit)",
                                      Printable(ref.AsString(), 40)));
    }
    return SecretSource{SecretSource::Kind::kEnv, ref.AsString(), value.loc};
  }
  if (ref.AsString().find('\0') != std::string::npos) return bad(ref.loc, "file: a NUL byte");
  std::filesystem::path path(ref.AsString());
  if (path.is_relative()) path = base / path;
  return SecretSource{SecretSource::Kind::kFile, path.lexically_normal().string(), value.loc};
}

Result<std::string> ReadSecret(const SecretSource& source, std::string_view where) {
  auto fail = [&](std::string why) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("{}: {}: {}", source.loc.ToString(), where, why));
  };
  switch (source.kind) {
    case SecretSource::Kind::kValue:
      return source.ref;
    case SecretSource::Kind::kEnv: {
      const char* value = std::getenv(source.ref.c_str());
      if (value == nullptr)
        return fail(fmt::format("environment variable {} is not set", source.ref));
      if (*value == '\0') return fail(fmt::format("environment variable {} is empty", source.ref));
      return std::string(value);
    }
    case SecretSource::Kind::kFile:
      break;
  }
  const std::string shown = Printable(source.ref, 120);
  SmallFile file = ReadSmallFile(source.ref, kMaxSecretBytes);
  switch (file.problem) {
    case SmallFile::Problem::kNone:
      break;
    case SmallFile::Problem::kOpen:
    case SmallFile::Problem::kRead:
      return fail(fmt::format("cannot read the file {}: {}", shown, std::strerror(file.error)));
    case SmallFile::Problem::kNotRegular:
      return fail(fmt::format("{} is not a regular file", shown));
    case SmallFile::Problem::kTooBig:
      return fail(fmt::format("the file {} is over {} KiB", shown, kMaxSecretBytes >> 10));
  }
  std::string& value = file.text;
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with('\n')) {
    value.pop_back();
  }
  if (value.empty()) return fail(fmt::format("the file {} is empty", shown));
  if (value.find('\0') != std::string::npos) {
    return fail(fmt::format("the file {} holds a NUL byte", shown));
  }
  return value;
}

Result<Config> LoadConfigFile(const std::filesystem::path& file) {
  const std::string display = file.string();
  auto fail = [&](std::string why) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("{}: {}", Printable(display, 200), why));
  };
  const SmallFile read = ReadSmallFile(file, kMaxConfigBytes);
  switch (read.problem) {
    case SmallFile::Problem::kNone:
      break;
    case SmallFile::Problem::kOpen:
    case SmallFile::Problem::kRead:
      return fail(fmt::format("cannot read the config file: {}", std::strerror(read.error)));
    case SmallFile::Problem::kNotRegular:
      return fail("the config file is not a regular file");
    case SmallFile::Problem::kTooBig:
      return fail(fmt::format("the config file is over {} KiB", kMaxConfigBytes >> 10));
  }
  const std::string& text = read.text;
  std::vector<Diagnostic> errors;
  std::optional<Value> root = ParseYaml(text, display, LoadOptions{}, &errors,
                                        {.text = "the config file must be UTF-8 text",
                                         .one_document = "the config file holds one document"});
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(file, ec);
  Config config;
  if (root) config = ConfigReader(absolute.parent_path(), &errors).Read(*root);
  if (errors.empty()) {
    // A token or secret written in the file is a password in a file: only its owner may read
    // it.
    for (auto [list, what] :
         {std::pair{&config.api_tokens, "api.tokens"}, std::pair{&config.secrets, "secrets"}}) {
      for (const auto& [name, source] : *list) {
        if (source.kind == SecretSource::Kind::kValue && (read.mode & 077) != 0) {
          errors.push_back(
              {source.loc, fmt::format("{}.{}: the value is written in a file that others can "
                                       "read (mode {:04o}): chmod 600 it, or use {{ env: "
                                       "VARIABLE }} or {{ file: PATH }}",
                                       what, name, read.mode)});
          break;
        }
      }
      if (!errors.empty()) break;
    }
  }
  if (!errors.empty()) return Fail(ErrorCode::kInvalidArgument, errors.front().ToString());
  config.file = file;
  return config;
}

Result<Config> LoadConfig(const std::filesystem::path& home) {
  if (const char* named = std::getenv("WEIR_CONFIG"); named != nullptr && *named != '\0') {
    return LoadConfigFile(named);
  }
  const std::filesystem::path file = home / "weir.yaml";
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(file, ec))) return Config{};
  return LoadConfigFile(file);
}

}  // namespace weir::dags
