// The embed kind end to end: ingested documents chunked, embedded by the hash provider and
// indexed by the real binary; `weir vectors search` finding a chunk by its own text; the cache
// (and a deleted index made again from the stored vectors); column lineage; the manifest's
// versions; the reuse count in the task log; bad `weir vectors search` input; and load
// errors that leave the state and the warehouse as they were.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tests/testing/weir_cli.h"

namespace weir {
namespace {

using testing::Contains;
using testing::CountLines;
using testing::DumpEveryTable;
using testing::Output;
using testing::Query;
using testing::ReadFile;

constexpr const char* kDag = R"(dag: emb
tasks:
  load_documents:
    kind: ingest
    source: {format: csv, path: documents.csv}
    columns: {doc_id: INTEGER, body: TEXT}
    into: documents
  embed_docs:
    kind: embed
    deps: [load_documents]
    source: {table: documents, id: doc_id, text: body}
    chunk: {unit: words, size: 8, overlap: 2}
    provider: {kind: hash, dim: 256}
    into: doc_chunks
    index: {path: "indexes/docs.faiss", factory: "HNSW32", metric: ip}
)";

// 17, 15, 16 and 9 words: 3 + 3 + 3 + 2 chunks by 8 words with an overlap of 2.
constexpr const char* kDocuments =
    "doc_id,body\n"
    "1,the river bank was muddy after the storm and the fishermen waited for the water to fall\n"
    "2,interest rates at the central bank rose again this quarter as inflation stayed above "
    "target\n"
    "3,a small robot learned to sort red and blue blocks by watching a person do it\n"
    "4,fresh bread needs flour water salt yeast and patience\n";

struct Fixture : testing::Project {
  Fixture() {
    dir.Write("dags/emb.yaml", kDag);
    dir.Write("dags/documents.csv", kDocuments);
  }
  std::filesystem::path Warehouse() const { return dir / "home" / "warehouse.db"; }
  std::filesystem::path Index() const { return dir / "dags" / "indexes" / "docs.faiss"; }
  Output Run() const { return (*this)({"run", "emb", "--date", "2026-01-15"}); }
  Output Search(std::vector<std::string> args) const {
    args.insert(args.begin(), {"vectors", "search"});
    return testing::Weir(dir, args);
  }
  std::string Log(int run) const {
    return (*this)({"tasks", "logs", "emb@2026-01-15T00:00:00Z~manual-" + std::to_string(run),
                    "embed_docs"})
        .out;
  }
};

TEST_CASE("an embed task after an ingest writes chunks and an index that search finds them in",
          "[e2e][embed]") {
  Fixture weir;
  Output run = weir.Run();
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(Query(weir.Warehouse(), "SELECT doc_id, count(*) FROM doc_chunks GROUP BY 1 ORDER BY 1") ==
        "1|3|\n2|3|\n3|3|\n4|2|\n");
  CHECK(Query(weir.Warehouse(), "SELECT DISTINCT model, dim, length(embedding) FROM doc_chunks") ==
        "weir-hash-v1|256|1024|\n");
  REQUIRE(std::filesystem::exists(weir.Index()));
  nlohmann::json manifest =
      nlohmann::json::parse(ReadFile(weir.dir / "dags" / "indexes" / "docs.faiss.manifest.json"));
  CHECK(manifest.at("ntotal") == 11);
  CHECK(manifest.at("factory") == "HNSW32");
  CHECK(manifest.at("input").at("dataset") == "warehouse://documents");
  // The manifest names the versions weir recorded: the documents read, the index written.
  auto fingerprint = [&](const std::string& uri) {
    std::string f = Query(weir.Db(),
                          "SELECT fingerprint FROM dataset_versions v JOIN datasets d ON "
                          "d.id = v.dataset_id WHERE d.uri = '" +
                              uri + "' AND v.version = 1");
    return f.substr(0, f.find('|'));
  };
  CHECK(manifest.at("input").at("version") == fingerprint("warehouse://documents"));
  CHECK(manifest.at("index_sha256") == fingerprint("file:indexes/docs.faiss"));

  // A chunk's own text finds it first, in both formats.
  const std::string chunk =
      Query(weir.Warehouse(),
            "SELECT chunk_id || ' ' || text FROM doc_chunks WHERE doc_id = 2 AND chunk_index = 1");
  REQUIRE(chunk.size() > 3);
  const std::string chunk_id = chunk.substr(0, chunk.find(' '));
  const std::string text = chunk.substr(chunk.find(' ') + 1, chunk.size() - chunk.find(' ') - 3);
  CHECK(text == "rose again this quarter as inflation stayed above");

  Output table = weir.Search({"dags/indexes/docs.faiss", "--text", text, "-k", "3"});
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  CHECK(table.err.empty());
  CHECK(CountLines(table.out) == 4);  // a header and three chunks
  const std::string first =
      table.out.substr(table.out.find('\n') + 1,
                       table.out.find('\n', table.out.find('\n') + 1) - table.out.find('\n') - 1);
  CHECK(first.starts_with("1 "));
  CHECK(Contains(first, chunk_id));
  CHECK(Contains(first, text));
  CHECK(Contains(first, "1.0000"));

  Output json =
      weir.Search({"dags/indexes/docs.faiss", "--text", text, "-k", "3", "--format", "json"});
  INFO(json.out << json.err);
  CHECK(json.exit_code == 0);
  REQUIRE(CountLines(json.out) == 3);
  nlohmann::json hit = nlohmann::json::parse(json.out.substr(0, json.out.find('\n')));
  CHECK(std::to_string(hit.at("chunk_id").get<std::int64_t>()) == chunk_id);
  CHECK(hit.at("doc_id") == "2");
  CHECK(hit.at("chunk_index") == 1);
  CHECK(hit.at("text") == text);
  CHECK(hit.at("score").get<double>() == Approx(1.0).margin(1e-4));

  // From any folder: the manifest holds the warehouse's absolute path.
  testing::TempDir elsewhere;
  Output away = testing::Weir(elsewhere, {"vectors", "search", weir.Index().string(), "--text",
                                          text, "-k", "1", "--format", "json"});
  INFO(away.out << away.err);
  REQUIRE(away.exit_code == 0);
  CHECK(nlohmann::json::parse(away.out).at("text") == text);

  // Each output column comes from the documents column it was made from.
  CHECK(Query(weir.Db(),
              "SELECT c.output_column || ' <- ' || i.uri || '.' || c.input_column || ' ' || "
              "c.transformation FROM column_lineage c "
              "JOIN dataset_versions ov ON ov.id = c.output_version_id "
              "JOIN datasets o ON o.id = ov.dataset_id "
              "JOIN dataset_versions iv ON iv.id = c.input_version_id "
              "JOIN datasets i ON i.id = iv.dataset_id "
              "WHERE o.uri = 'warehouse://doc_chunks' ORDER BY 1") ==
        "doc_id <- warehouse://documents.doc_id identity|\n"
        "embedding <- warehouse://documents.body embedding|\n"
        "text <- warehouse://documents.body chunk|\n");
  CHECK(Contains(weir.Log(1),
                 "embed embed_docs: 11 chunks of 4 documents into doc_chunks: 0 reused, 11 "
                 "embedded by the hash provider; index docs.faiss"));

  // Nothing changed upstream: cached.
  const std::string index = ReadFile(weir.Index());
  Output again = weir.Run();
  REQUIRE(again.exit_code == 0);
  CHECK(Query(weir.Db(),
              "SELECT state FROM task_instances WHERE task_id = 'embed_docs' ORDER BY run_id") ==
        "success|\ncached|\n");
  CHECK(ReadFile(weir.Index()) == index);

  // The index deleted: the task runs again, and makes it from the vectors in the table.
  std::filesystem::remove(weir.Index());
  Output rebuilt = weir.Run();
  INFO(rebuilt.out << rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  CHECK(Contains(weir.Log(3),
                 "embed embed_docs: 11 chunks of 4 documents into doc_chunks: 11 reused, 0 "
                 "embedded by the hash provider; index docs.faiss"));
  REQUIRE(std::filesystem::exists(weir.Index()));
  CHECK(weir.Search({"dags/indexes/docs.faiss", "--text", text, "-k", "1"}).exit_code == 0);

  // Document 4's last word changed: one chunk embedded, the other ten reused.
  std::string changed = kDocuments;
  changed.replace(changed.find("patience"), 8, "time");
  weir.dir.Write("dags/documents.csv", changed);
  Output fourth = weir.Run();
  INFO(fourth.out << fourth.err);
  REQUIRE(fourth.exit_code == 0);
  CHECK(Contains(weir.Log(4),
                 "embed embed_docs: 11 chunks of 4 documents into doc_chunks: 10 reused, 1 "
                 "embedded by the hash provider; index docs.faiss"));
  CHECK(Query(weir.Warehouse(), "SELECT text FROM doc_chunks WHERE doc_id = 4 ORDER BY 1") ==
        "fresh bread needs flour water salt yeast and|\nyeast and time|\n");
  Output found = weir.Search(
      {"dags/indexes/docs.faiss", "--text", "yeast and time", "-k", "1", "--format", "json"});
  REQUIRE(found.exit_code == 0);
  CHECK(nlohmann::json::parse(found.out).at("text") == "yeast and time");
}

TEST_CASE("weir vectors search refuses bad input with a one-line error and exit code 2",
          "[e2e][embed]") {
  Fixture weir;
  REQUIRE(weir.Run().exit_code == 0);
  const std::filesystem::path folder = weir.dir / "dags" / "indexes";
  std::filesystem::copy_file(weir.Index(), folder / "copy.faiss");
  std::filesystem::copy_file(folder / "docs.faiss.manifest.json",
                             folder / "orphan.faiss.manifest.json");
  weir.dir.Write("dags/indexes/garbage.faiss", "not an index");
  std::filesystem::copy_file(folder / "docs.faiss.manifest.json",
                             folder / "garbage.faiss.manifest.json");
  const std::string text = "the river bank";
  struct Case {
    const char* what;
    std::vector<std::string> args;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"a missing index", {"dags/indexes/missing.faiss", "--text", text}, "missing.faiss"},
      {"an index without a manifest",
       {"dags/indexes/copy.faiss", "--text", text},
       "copy.faiss.manifest.json"},
      {"a manifest without its index",
       {"dags/indexes/orphan.faiss", "--text", text},
       "dags/indexes/orphan.faiss does not exist"},
      {"a file that is not an index",
       {"dags/indexes/garbage.faiss", "--text", text},
       "cannot search dags/indexes/garbage.faiss"},
      {"-k 0", {"dags/indexes/docs.faiss", "--text", text, "-k", "0"}, "-k 0"},
      {"-k 1001", {"dags/indexes/docs.faiss", "--text", text, "-k", "1001"}, "-k 1001"},
      {"an empty text", {"dags/indexes/docs.faiss", "--text", ""}, "--text is empty"},
      {"an unknown format",
       {"dags/indexes/docs.faiss", "--text", text, "--format", "xml"},
       "--format 'xml'"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Output o = weir.Search(c.args);
    INFO(o.out << o.err);
    CHECK(o.exit_code == 2);
    CHECK(o.out.empty());
    CHECK(CountLines(o.err) == 1);
    CHECK(o.err.starts_with("weir: "));
    CHECK(Contains(o.err, c.error));
  }
}

TEST_CASE("embed config errors are load errors with file:line:col, and weir run changes nothing",
          "[e2e][embed]") {
  Fixture weir;
  REQUIRE(weir.Run().exit_code == 0);
  const std::string state = DumpEveryTable(weir.Db());
  const std::string warehouse = DumpEveryTable(weir.Warehouse()) +
                                Query(weir.Warehouse(), "SELECT hex(embedding) FROM doc_chunks");
  const std::string index = ReadFile(weir.Index());
  weir.dir.Write("dags/emb.yaml", R"(dag: emb
tasks:
  a:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    provider: {kind: bert}
    into: a_chunks
  b:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    chunk: {unit: words, size: 8, overlap: 8}
    provider: {kind: hash}
    into: b_chunks
  c:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    provider: {kind: openai, model: m}
    into: c_chunks
  d:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    provider: {kind: openai, base_url: "http://127.0.0.1:9", model: m, api_key_env: WEIR_KEY}
    into: d_chunks
  e:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    provider: {kind: hash}
    into: e_chunks
    index: {path: e.faiss, metric: cosine}
  f:
    kind: embed
    source: {table: documents, id: doc_id, text: body}
    provider: {kind: hash}
    into: documents
)");
  Output validate = testing::Weir(weir.dir, {"validate", "dags"});
  CHECK(validate.exit_code == 2);
  INFO(validate.err);
  for (const char* error : {
           "emb.yaml:6:22: 'kind' must be one of hash, openai\n",
           "emb.yaml:11:44: 'overlap' must be a whole number from 0 to below 'size'\n",
           "emb.yaml:17:15: an openai provider needs 'base_url': http://HOST:PORT (weir adds "
           "/v1/embeddings)\n",
           "emb.yaml:22:85: 'api_key_env' must name the environment variable that holds the key "
           "(not a WEIR_ one), so that the key stays out of the DAG file\n",
           "emb.yaml:29:36: 'metric' must be one of ip, l2\n",
           "emb.yaml:34:11: 'into' must differ from the source table\n",
       }) {
    CHECK(Contains(validate.err, error));
  }
  Output run = weir.Run();
  CHECK(run.exit_code == 2);
  CHECK(DumpEveryTable(weir.Db()) == state);
  CHECK(DumpEveryTable(weir.Warehouse()) +
            Query(weir.Warehouse(), "SELECT hex(embedding) FROM doc_chunks") ==
        warehouse);
  CHECK(ReadFile(weir.Index()) == index);
}

}  // namespace
}  // namespace weir
