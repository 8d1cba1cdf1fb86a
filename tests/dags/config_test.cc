// The home's config file (dags/config.h): its tokens' sources, and every way a hostile or
// mistaken file, variable or secret file is refused with one line naming where and why.
#include "dags/config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "common/secret_mask.h"
#include "dags/dags.h"
#include "tests/testing/temp_dir.h"

namespace weir::dags {
namespace {

using Catch::Contains;

// Sets an environment variable for one scope, and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::filesystem::path WriteConfig(const testing::TempDir& dir, const std::string& text,
                                  mode_t mode = 0600) {
  auto path = dir.Write("weir.yaml", text);
  ::chmod(path.c_str(), mode);
  return path;
}

// The one-line error loading `text` gives.
std::string ConfigError(const std::string& text, mode_t mode = 0600) {
  testing::TempDir dir;
  auto config = LoadConfigFile(WriteConfig(dir, text, mode));
  REQUIRE_FALSE(config.has_value());
  CHECK(config.error().code == ErrorCode::kInvalidArgument);
  CHECK(config.error().message.find('\n') == std::string::npos);
  // Errors name the file by its path; the test compares what follows it.
  const std::string prefix = (dir / "weir.yaml").string() + ":";
  REQUIRE(config.error().message.starts_with(prefix));
  return config.error().message.substr(prefix.size());
}

TEST_CASE("the config file names each API token's source", "[config]") {
  testing::TempDir dir;
  auto file = WriteConfig(dir,
                          "# tokens of this home\n"
                          "api:\n"
                          "  tokens:\n"
                          "    ci: { env: WEIR_CI_TOKEN }\n"
                          "    alice: { file: secrets/alice }\n"
                          "    bob: { file: /run/secrets/bob }\n"
                          "    carol: 0123456789abcdef-carol\n");
  auto config = LoadConfigFile(file);
  REQUIRE(config.has_value());
  CHECK(config->file == file);
  REQUIRE(config->api_tokens.size() == 4);
  CHECK(config->api_tokens[0].first == "ci");
  CHECK(config->api_tokens[0].second.kind == SecretSource::Kind::kEnv);
  CHECK(config->api_tokens[0].second.ref == "WEIR_CI_TOKEN");
  CHECK(config->api_tokens[0].second.loc.line == 4);
  CHECK(config->api_tokens[1].first == "alice");
  CHECK(config->api_tokens[1].second.kind == SecretSource::Kind::kFile);
  CHECK(config->api_tokens[1].second.ref == (dir / "secrets/alice").string());  // beside the file
  CHECK(config->api_tokens[2].second.ref == "/run/secrets/bob");
  CHECK(config->api_tokens[3].second.kind == SecretSource::Kind::kValue);
  CHECK(config->api_tokens[3].second.ref == "0123456789abcdef-carol");
}

TEST_CASE("the config file names the secrets every task gets", "[config]") {
  testing::TempDir dir;
  auto config = LoadConfigFile(WriteConfig(dir,
                                           "secrets:\n"
                                           "  DB_PASSWORD: { env: PROD_DB_PASSWORD }\n"
                                           "  S3_KEY: { file: keys/s3 }\n"
                                           "  LITERAL: only-in-a-600-file\n"));
  REQUIRE(config.has_value());
  REQUIRE(config->secrets.size() == 3);
  CHECK(config->secrets[0].first == "DB_PASSWORD");
  CHECK(config->secrets[0].second.ref == "PROD_DB_PASSWORD");
  CHECK(config->secrets[1].second.ref == (dir / "keys/s3").string());
  CHECK(config->secrets[2].second.kind == SecretSource::Kind::kValue);
  CHECK(ConfigError("secrets:\n  X: a-literal-value\n", 0644) ==
        "2:6: secrets.X: the value is written in a file that others can read (mode 0644): chmod "
        "600 it, or use { env: VARIABLE } or { file: PATH }");
  CHECK(ConfigError("secrets:\n  WEIR_TOKEN: { env: X }\n") ==
        "2:3: secrets: 'WEIR_TOKEN': WEIR_ variables are weir's own");
  CHECK(ConfigError("secrets:\n  A-B: { env: X }\n") ==
        "2:3: secrets: 'A-B' is not a variable's name (letters, digits and '_', not starting "
        "with a digit, at most 128)");
  CHECK(ConfigError("secrets: nope\n") ==
        "1:10: secrets: expected a map of VARIABLE: { env: NAME } or { file: PATH }, not a "
        "string");
}

TEST_CASE("a DAG names its secrets by source only, a file relative to the DAG file", "[config]") {
  testing::TempDir dir;
  dir.Write("dags/sub/d.yaml",
            "dag: d\n"
            "secrets:\n"
            "  API_KEY: { file: key.txt }\n"
            "  DB: { env: DB_SOURCE }\n"
            "tasks: { t: { kind: shell, script: 'true' } }\n");
  LoadResult loaded = LoadDags({dir / "dags"}, dir / "dags");
  REQUIRE(loaded.errors.empty());
  const Dag& dag = *loaded.dags.at(0);
  REQUIRE(dag.secrets.size() == 2);
  CHECK(dag.secrets[0].second.ref == (dir / "dags/sub/key.txt").string());
  CHECK(dag.secrets[1].second.kind == SecretSource::Kind::kEnv);
  dir.Write("dags/sub/d.yaml", "dag: d\nsecrets: { API_KEY: written-here }\ntasks: {}\n");
  LoadResult refused = LoadDags({dir / "dags"}, dir / "dags");
  REQUIRE_FALSE(refused.errors.empty());
  CHECK(refused.errors[0].ToString() ==
        "sub/d.yaml:2:21: secrets.API_KEY: expected { env: VARIABLE } or { file: PATH }");
}

TEST_CASE("the secrets that can be read are masked by this process, the others skipped",
          "[config]") {
  testing::TempDir dir;
  ScopedEnv set("WEIR_TEST_MASKED", "masked-by-config-test");
  ScopedEnv unset("WEIR_TEST_UNSET", std::nullopt);
  MaskReadableSecrets({{"A", {SecretSource::Kind::kEnv, "WEIR_TEST_MASKED", {}}},
                       {"B", {SecretSource::Kind::kEnv, "WEIR_TEST_UNSET", {}}},
                       {"C", {SecretSource::Kind::kFile, (dir / "none").string(), {}}}});
  CHECK(ProcessSecrets::Instance().Apply("x masked-by-config-test") == "x ***");
}

TEST_CASE("an empty config file, or none, configures nothing", "[config]") {
  testing::TempDir dir;
  auto empty = LoadConfigFile(WriteConfig(dir, "# nothing yet\n"));
  REQUIRE(empty.has_value());
  CHECK(empty->api_tokens.empty());
  ScopedEnv unset("WEIR_CONFIG", std::nullopt);
  auto none = LoadConfig(dir / "another-home");
  REQUIRE(none.has_value());
  CHECK(none->file.empty());
}

TEST_CASE("the config is HOME/weir.yaml, or the file WEIR_CONFIG names", "[config]") {
  testing::TempDir dir;
  WriteConfig(dir, "api: { tokens: { ci: { env: A_TOKEN } } }\n");
  {
    ScopedEnv unset("WEIR_CONFIG", std::nullopt);
    auto config = LoadConfig(dir.path());
    REQUIRE(config.has_value());
    CHECK(config->api_tokens.size() == 1);
  }
  {
    ScopedEnv empty("WEIR_CONFIG", "");  // empty counts as unset
    CHECK(LoadConfig(dir.path())->api_tokens.size() == 1);
  }
  {
    auto other = dir.Write("elsewhere/config.yaml", "api:\n  tokens: {}\n");
    ScopedEnv named("WEIR_CONFIG", other.string());
    auto config = LoadConfig(dir.path());
    REQUIRE(config.has_value());
    CHECK(config->file == other);
    CHECK(config->api_tokens.empty());
  }
  {
    ScopedEnv missing("WEIR_CONFIG", (dir / "missing.yaml").string());
    auto config = LoadConfig(dir.path());
    REQUIRE_FALSE(config.has_value());
    CHECK(config.error().message == (dir / "missing.yaml").string() +
                                        ": cannot read the config file: No such file or directory");
  }
}

TEST_CASE("a malformed or hostile config file is refused with where and why", "[config]") {
  struct Case {
    std::string text;
    std::string error;  // after "PATH:"
  };
  const Case cases[] = {
      {"api: [", "1:1: invalid YAML: end of sequence flow not found"},
      {"- api\n", "1:1: the config file must be a map of settings, not a list"},
      {"apis: {}\n", "1:1: unknown key 'apis' (known: api, secrets)"},
      {"api: 5\n", "1:6: api: expected a map, not an integer"},
      {"api: { token: {} }\n", "1:8: api: unknown key 'token' (known: tokens)"},
      {"api:\n  tokens: [ci]\n",
       "2:11: api.tokens: expected a map of name: { env: VARIABLE } or { file: PATH }, not a list"},
      {"api:\n  tokens:\n    \"bad name\": { env: X }\n",
       "3:5: api.tokens: 'bad name' is not a token name (letters, digits, '_', '-', '.' and '@', "
       "at most 64)"},
      {"api:\n  tokens:\n    ci: { vault: x }\n",
       "3:11: api.tokens.ci: unknown source 'vault' (expected { env: VARIABLE }, { file: PATH } "
       "or the value itself)"},
      {"api:\n  tokens:\n    ci: { env: X, file: y }\n",
       "3:9: api.tokens.ci: expected { env: VARIABLE }, { file: PATH } or the value itself"},
      {"api:\n  tokens:\n    ci: { env: 1X }\n",
       "3:16: api.tokens.ci: env: '1X' is not a variable's name (letters, digits and '_', not "
       "starting with a digit)"},
      {"api:\n  tokens:\n    ci: { file: [a] }\n",
       "3:17: api.tokens.ci: file: expected a file's path"},
      {"api:\n  tokens:\n    ci: \"\"\n", "3:9: api.tokens.ci: the value is empty"},
      {"api:\n  tokens:\n    ci: { env: A }\n    ci: { env: B }\n",
       "4:5: duplicate key 'ci' (first at line 3)"},
      {"api: {}\n---\napi: {}\n",
       "3:1: a second YAML document ('---'); the config file holds one document"},
      {std::string("api: {}\n# \0\n", 12),
       "2:3: the file contains a NUL byte; the config file must be UTF-8 text"},
      {"api: \"\xff\"\n", "1:7: invalid UTF-8; the config file must be UTF-8 text"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(ConfigError(c.text) == c.error);
  }
  CHECK_THAT(ConfigError("a: &a [1, *a]\n"),
             Contains("an alias inside the node of its own anchor"));
  CHECK_THAT(ConfigError("api: " + std::string(200, '[') + std::string(200, ']')),
             Contains("nesting deeper than 64 levels"));
}

TEST_CASE("a token written in a config file others can read is refused", "[config]") {
  CHECK(ConfigError("api:\n  tokens:\n    ci: 0123456789abcdef\n", 0644) ==
        "3:9: api.tokens.ci: the value is written in a file that others can read (mode 0644): "
        "chmod 600 it, or use { env: VARIABLE } or { file: PATH }");
  // Sources are names, not secrets: they may be read by anyone.
  testing::TempDir dir;
  CHECK(LoadConfigFile(WriteConfig(dir, "api:\n  tokens:\n    ci: { env: X }\n", 0644)));
}

TEST_CASE("a config file that is not a small regular file is refused without hanging", "[config]") {
  testing::TempDir dir;
  auto fifo = dir / "weir.yaml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = LoadConfigFile(fifo);
  REQUIRE_FALSE(from_fifo.has_value());
  CHECK(from_fifo.error().message == fifo.string() + ": the config file is not a regular file");
  auto big = dir.Write("big.yaml", "# " + std::string(2 << 20, 'x') + "\n");
  auto from_big = LoadConfigFile(big);
  REQUIRE_FALSE(from_big.has_value());
  CHECK(from_big.error().message == big.string() + ": the config file is over 1024 KiB");
  auto from_folder = LoadConfigFile(dir.path());
  REQUIRE_FALSE(from_folder.has_value());
  CHECK_THAT(from_folder.error().message, Contains("not a regular file"));
}

SecretSource Source(SecretSource::Kind kind, std::string ref) {
  return SecretSource{kind, std::move(ref), SourceLocation{"weir.yaml", 3, 9}};
}

TEST_CASE("a secret is read from its variable or file when it is needed", "[config]") {
  testing::TempDir dir;
  {
    ScopedEnv set("WEIR_TEST_SECRET", "s3cret-value");
    CHECK(ReadSecret(Source(SecretSource::Kind::kEnv, "WEIR_TEST_SECRET"), "x") == "s3cret-value");
  }
  // One trailing line end is what `echo value > file` leaves; it is not part of the value.
  dir.Write("lf", "from-a-file\n");
  dir.Write("crlf", "from-a-file\r\n");
  dir.Write("two", "from-a-file\n\n");
  CHECK(ReadSecret(Source(SecretSource::Kind::kFile, (dir / "lf").string()), "x") == "from-a-file");
  CHECK(ReadSecret(Source(SecretSource::Kind::kFile, (dir / "crlf").string()), "x") ==
        "from-a-file");
  CHECK(ReadSecret(Source(SecretSource::Kind::kFile, (dir / "two").string()), "x") ==
        "from-a-file\n");
  CHECK(ReadSecret(Source(SecretSource::Kind::kValue, "inline"), "x") == "inline");
}

TEST_CASE("a secret that cannot be read says where and why, never its value", "[config]") {
  testing::TempDir dir;
  auto error = [](const SecretSource& source) {
    auto value = ReadSecret(source, "api.tokens.ci");
    REQUIRE_FALSE(value.has_value());
    CHECK(value.error().code == ErrorCode::kInvalidArgument);
    return value.error().message;
  };
  ScopedEnv unset("WEIR_TEST_SECRET", std::nullopt);
  CHECK(error(Source(SecretSource::Kind::kEnv, "WEIR_TEST_SECRET")) ==
        "weir.yaml:3:9: api.tokens.ci: environment variable WEIR_TEST_SECRET is not set");
  {
    ScopedEnv empty("WEIR_TEST_SECRET", "");
    CHECK(error(Source(SecretSource::Kind::kEnv, "WEIR_TEST_SECRET")) ==
          "weir.yaml:3:9: api.tokens.ci: environment variable WEIR_TEST_SECRET is empty");
  }
  const std::string missing = (dir / "missing").string();
  CHECK(error(Source(SecretSource::Kind::kFile, missing)) ==
        "weir.yaml:3:9: api.tokens.ci: cannot read the file " + missing +
            ": No such file or directory");
  const std::string empty = dir.Write("empty", "\n").string();
  CHECK(error(Source(SecretSource::Kind::kFile, empty)) ==
        "weir.yaml:3:9: api.tokens.ci: the file " + empty + " is empty");
  const std::string big = dir.Write("big", std::string(65 << 10, 'k')).string();
  CHECK(error(Source(SecretSource::Kind::kFile, big)) ==
        "weir.yaml:3:9: api.tokens.ci: the file " + big + " is over 64 KiB");
  const std::string nul = dir.Write("nul", std::string("abc\0def", 7)).string();
  CHECK(error(Source(SecretSource::Kind::kFile, nul)) ==
        "weir.yaml:3:9: api.tokens.ci: the file " + nul + " holds a NUL byte");
  const std::string fifo = (dir / "fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // nobody writes it: reading must not wait
  CHECK(error(Source(SecretSource::Kind::kFile, fifo)) ==
        "weir.yaml:3:9: api.tokens.ci: " + fifo + " is not a regular file");
  const std::string unreadable = dir.Write("unreadable", "s3cret-value\n").string();
  ::chmod(unreadable.c_str(), 0);
  if (::geteuid() != 0) {  // root reads it anyway
    CHECK_THAT(error(Source(SecretSource::Kind::kFile, unreadable)),
               Contains("cannot read the file " + unreadable + ": Permission denied"));
  }
}

}  // namespace
}  // namespace weir::dags
