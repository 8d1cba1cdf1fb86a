// Dataset URIs resolved against a real folder, and fingerprints of real files and SQLite tables.
#include "tasks/datasets.h"

#include <sqlite3.h>
#include <stdio.h>

#include <catch2/catch.hpp>

#include "tests/testing/sqlite.h"
#include "tests/testing/temp_dir.h"

namespace weir::tasks {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

struct Place {
  TempDir dir;
  DatasetPlace place;
  Place() {
    fs::create_directories(dir / "dags" / "team");
    fs::create_directories(dir / "home");
    place = DatasetPlace{dir / "dags" / "team", dir / "dags", dir / "home" / "warehouse.db", true};
  }
};

std::string Sha256Sum(const fs::path& file) {
  std::string command = "sha256sum '" + file.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[128] = {};
  REQUIRE(fgets(buffer, sizeof buffer, pipe) != nullptr);
  pclose(pipe);
  return std::string(buffer, 64);
}

TEST_CASE("dataset URIs resolve to a path and a normalised identity", "[tasks]") {
  Place p;
  auto file = ResolveDataset("file:data/../data/x.csv", p.place);
  REQUIRE(file);
  CHECK(file->uri == "file:team/data/x.csv");
  CHECK(file->path == p.dir.path() / "dags" / "team" / "data" / "x.csv");
  CHECK(file->table.empty());

  auto up = ResolveDataset("file:../shared/y.csv", p.place);  // up, but still inside the root
  REQUIRE(up);
  CHECK(up->uri == "file:shared/y.csv");

  auto table = ResolveDataset("warehouse://clean_events", p.place);
  REQUIRE(table);
  CHECK(table->uri == "warehouse://clean_events");
  CHECK(table->path == p.dir.path() / "home" / "warehouse.db");
  CHECK(table->table == "clean_events");

  auto other = ResolveDataset("sqlite://db/feature_store.db#users", p.place);
  REQUIRE(other);
  CHECK(other->uri == "sqlite://team/db/feature_store.db#users");
  CHECK(other->table == "users");

  // A DAG with its own warehouse file names its tables as that SQLite file's.
  DatasetPlace own = p.place;
  own.warehouse = p.dir.path() / "dags" / "team" / "wh.db";
  own.default_warehouse = false;
  auto owned = ResolveDataset("warehouse://t", own);
  REQUIRE(owned);
  CHECK(owned->uri == "sqlite://team/wh.db#t");
}

TEST_CASE("dataset paths that leave the DAGs folder are refused, also through a symlink",
          "[tasks]") {
  Place p;
  for (const char* uri :
       {"file:../../secret.txt", "file:/etc/passwd", "sqlite://../../other.db#t", "file:../.."}) {
    auto resolved = ResolveDataset(uri, p.place);
    INFO(uri);
    REQUIRE_FALSE(resolved);
    CHECK(resolved.error().code == ErrorCode::kInvalidArgument);
    CHECK(resolved.error().message.find("is outside the DAGs folder") != std::string::npos);
  }
  fs::create_directory_symlink(p.dir.path(), p.dir / "dags" / "team" / "escape");
  auto through_link = ResolveDataset("file:escape/home/warehouse.db", p.place);
  REQUIRE_FALSE(through_link);
  CHECK(through_link.error().message ==
        "dataset 'file:escape/home/warehouse.db' is outside the DAGs folder " +
            fs::weakly_canonical(p.dir / "dags").string() +
            " (paths may not leave it, through '..' or a symlink)");
}

TEST_CASE("malformed dataset URIs get a one-line reason", "[tasks]") {
  Place p;
  for (auto [uri, reason] : {
           std::pair{"s3://bucket/key", "use file:PATH, warehouse://TABLE or sqlite://PATH#TABLE"},
           {"file:", "the path is empty"},
           {"file://host/x", "write file:PATH (a path, not a URL with a host)"},
           {"warehouse://",
            "table name '' must be letters, digits and '_', not starting with a "
            "digit"},
           {"warehouse://drop table x",
            "table name 'drop table x' must be letters, digits and "
            "'_', not starting with a digit"},
           {"sqlite://x.db", "use sqlite://PATH#TABLE"},
           {"sqlite://#t", "the SQLite file's path is empty"},
       }) {
    auto resolved = ResolveDataset(uri, p.place);
    INFO(uri);
    REQUIRE_FALSE(resolved);
    CHECK(resolved.error().message == std::string("dataset '") + uri + "': " + reason);
  }
}

TEST_CASE("a file's fingerprint is the SHA-256 of its bytes, as sha256sum computes it", "[tasks]") {
  Place p;
  std::string big(3 * 1024 * 1024 + 17, 'x');  // over several read chunks
  for (auto [name, text] : {std::pair{"empty.csv", std::string()},
                            {"small.csv", std::string("user,amount\nu1,3\n")},
                            {"big.bin", big}}) {
    fs::path file = p.dir.Write(std::string("dags/team/") + name, text);
    auto resolved = ResolveDataset(std::string("file:") + name, p.place);
    REQUIRE(resolved);
    auto seen = TakeFingerprint(*resolved);
    REQUIRE(seen);
    CHECK(seen->fingerprint == "sha256:" + Sha256Sum(file));
    CHECK(seen->bytes == static_cast<std::int64_t>(text.size()));
    CHECK(seen->schema_json == "[]");
    CHECK_FALSE(seen->row_count.has_value());
  }
  auto missing = TakeFingerprint(*ResolveDataset("file:nope.csv", p.place));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message.ends_with("nope.csv does not exist"));
}

TEST_CASE("a table's fingerprint covers its schema and rows, not their insertion order",
          "[tasks]") {
  Place p;
  fs::path db = p.dir / "home" / "warehouse.db";
  testing::ExecSql(db,
                   "CREATE TABLE a (user TEXT, amount INTEGER, score REAL, raw BLOB);"
                   "INSERT INTO a VALUES ('u1', 3, 0.5, x'00ff'), ('u2', NULL, 1e300, NULL);"
                   "CREATE TABLE b (user TEXT, amount INTEGER, score REAL, raw BLOB);"
                   "INSERT INTO b VALUES ('u2', NULL, 1e300, NULL), ('u1', 3, 0.5, x'00ff');");
  auto a = TakeFingerprint(*ResolveDataset("warehouse://a", p.place));
  auto b = TakeFingerprint(*ResolveDataset("warehouse://b", p.place));
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->fingerprint == b->fingerprint);
  CHECK(a->row_count == 2);
  CHECK(a->schema_json == R"([{"name":"user","type":"TEXT"},{"name":"amount","type":"INTEGER"},)"
                          R"({"name":"score","type":"REAL"},{"name":"raw","type":"BLOB"}])");

  testing::ExecSql(db, "UPDATE b SET amount = 4 WHERE user = 'u1'");
  auto changed = TakeFingerprint(*ResolveDataset("warehouse://b", p.place));
  REQUIRE(changed);
  CHECK(changed->fingerprint != a->fingerprint);
  // The same text in a column of another type is other content.
  testing::ExecSql(db,
                   "CREATE TABLE c (v TEXT); INSERT INTO c VALUES ('1');"
                   "CREATE TABLE d (v INTEGER); INSERT INTO d VALUES (1);");
  CHECK(TakeFingerprint(*ResolveDataset("warehouse://c", p.place))->fingerprint !=
        TakeFingerprint(*ResolveDataset("warehouse://d", p.place))->fingerprint);

  auto missing = TakeFingerprint(*ResolveDataset("warehouse://nope", p.place));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message.starts_with("warehouse://nope: table 'nope' does not exist in "));
  auto no_file = TakeFingerprint(*ResolveDataset("sqlite://none.db#t", p.place));
  REQUIRE_FALSE(no_file);
  CHECK(no_file.error().code == ErrorCode::kNotFound);
}

TEST_CASE("a manifest survives a round trip, a corrupt one is an error, a missing one none",
          "[tasks]") {
  Place p;
  Manifest m;
  m.config_hash = "sha256:cfg";
  m.reads.push_back({"file:a.csv", "sha256:1", "[]", std::nullopt, 10});
  m.writes.push_back({"warehouse://t", "sha256:2", R"([{"name":"x","type":"INT"}])", 3, 24});
  fs::path path = ManifestPathFor(p.dir / "logs" / "task.2.log");
  CHECK(path.filename() == "task.2.manifest.json");
  fs::create_directories(path.parent_path());
  REQUIRE(WriteManifest(path, m));
  auto back = ReadManifest(path);
  REQUIRE(back);
  REQUIRE(*back);
  CHECK((*back)->config_hash == "sha256:cfg");
  REQUIRE((*back)->reads.size() == 1);
  CHECK((*back)->reads[0].bytes == 10);
  CHECK_FALSE((*back)->reads[0].row_count.has_value());
  REQUIRE((*back)->writes.size() == 1);
  CHECK((*back)->writes[0].schema_json == R"([{"name":"x","type":"INT"}])");
  CHECK((*back)->writes[0].row_count == 3);

  auto none = ReadManifest(p.dir / "logs" / "other.manifest.json");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  p.dir.Write("logs/bad.manifest.json", "{\"reads\": [1, 2");
  auto bad = ReadManifest(p.dir / "logs" / "bad.manifest.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("is not a task manifest") != std::string::npos);

  ManifestSpec spec;
  spec.config_hash = "sha256:cfg";
  spec.kind_version = "shell/1";
  spec.inputs = {*ResolveDataset("file:a.csv", p.place)};
  auto spec_back = SpecFromJson(SpecToJson(spec));
  REQUIRE(spec_back);
  CHECK(spec_back->inputs.at(0).uri == "file:team/a.csv");
  CHECK_FALSE(SpecFromJson("not json"));
}

}  // namespace
}  // namespace weir::tasks
