#include "state/openlineage.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/hash.h"

namespace weir::state {
namespace {

using json = nlohmann::json;

constexpr const char* kSpec = "https://openlineage.io/spec/2-0-2/OpenLineage.json";
constexpr const char* kFacets = "https://openlineage.io/spec/facets/";

json Facet(const OpenLineageOptions& options, std::string_view file, std::string_view name) {
  return {{"_producer", options.producer},
          {"_schemaURL",
           std::string(kFacets) + std::string(file) + ".json#/$defs/" + std::string(name)}};
}

std::string SchemeOf(const std::string& uri) {
  if (uri.starts_with("file:")) return "file";
  if (uri.starts_with("warehouse://")) return "warehouse";
  return "sqlite";
}

json DatasetJson(const DatasetVersionRecord& v, const OpenLineageOptions& options) {
  json facets = json::object();
  json schema = json::parse(v.schema_json, nullptr, false);
  if (schema.is_array() && !schema.empty()) {
    json fields = json::array();
    for (const json& f : schema)
      fields.push_back({{"name", f.value("name", "")}, {"type", f.value("type", "")}});
    facets["schema"] = Facet(options, "1-2-0/SchemaDatasetFacet", "SchemaDatasetFacet");
    facets["schema"]["fields"] = fields;
  }
  facets["dataSource"] = Facet(options, "1-0-1/DatasourceDatasetFacet", "DatasourceDatasetFacet");
  facets["dataSource"]["name"] = SchemeOf(v.uri);
  facets["dataSource"]["uri"] = v.uri;
  facets["version"] =
      Facet(options, "1-0-1/DatasetVersionDatasetFacet", "DatasetVersionDatasetFacet");
  facets["version"]["datasetVersion"] = std::to_string(v.version) + ":" + v.fingerprint;
  return {{"namespace", options.job_namespace}, {"name", v.uri}, {"facets", facets}};
}

std::string EndType(const AttemptRecord& a) {
  switch (a.state) {
    case AttemptState::kSuccess:
    case AttemptState::kSkipped:
      return "COMPLETE";
    case AttemptState::kFailed:
      return a.reason.starts_with("cancelled") || a.reason.starts_with("orphaned") ? "ABORT"
                                                                                   : "FAIL";
    case AttemptState::kRunning:
      break;
  }
  return "";
}

}  // namespace

std::string NameUuid(std::string_view name) {
  std::string hex = Sha256Hex(name).substr(0, 32);
  hex[12] = '5';  // version 5 layout
  static constexpr char kVariant[] = "89ab";
  hex[16] = kVariant[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::vector<std::string> OpenLineageEvents(const AttemptExport& e,
                                           const OpenLineageOptions& options) {
  const AttemptRecord& a = e.attempt.attempt;
  json run_facets = json::object();
  run_facets["nominalTime"] = Facet(options, "1-0-1/NominalTimeRunFacet", "NominalTimeRunFacet");
  run_facets["nominalTime"]["nominalStartTime"] = FormatIso(e.attempt.interval_start);
  run_facets["nominalTime"]["nominalEndTime"] = FormatIso(e.attempt.interval_end);
  run_facets["parent"] = Facet(options, "1-2-0/ParentRunFacet", "ParentRunFacet");
  run_facets["parent"]["run"] = {{"runId", NameUuid("weir-run:" + a.run_id)}};
  run_facets["parent"]["job"] = {{"namespace", options.job_namespace}, {"name", e.attempt.dag_id}};
  json job = {{"namespace", options.job_namespace}, {"name", e.attempt.dag_id + "." + a.task_id}};
  job["facets"]["jobType"] = Facet(options, "2-0-4/JobTypeJobFacet", "JobTypeJobFacet");
  job["facets"]["jobType"]["processingType"] = "BATCH";
  job["facets"]["jobType"]["integration"] = "WEIR";
  job["facets"]["jobType"]["jobType"] = "TASK";
  const std::string run_id =
      NameUuid("weir-attempt:" + a.run_id + "/" + a.task_id + "/" + std::to_string(a.try_number) +
               "/" + std::to_string(ToMillis(a.started_at)));
  json inputs = json::array();
  for (const DatasetVersionRecord& v : e.reads) inputs.push_back(DatasetJson(v, options));

  auto event = [&](const std::string& type, Timestamp at, json facets, json outputs,
                   const json& inputs) {
    return json{{"eventType", type},
                {"eventTime", FormatIso(at)},
                {"producer", options.producer},
                {"schemaURL", std::string(kSpec) + "#/$defs/RunEvent"},
                {"run", {{"runId", run_id}, {"facets", std::move(facets)}}},
                {"job", job},
                {"inputs", inputs},
                {"outputs", std::move(outputs)}}
        .dump();
  };
  std::vector<std::string> out = {event("START", a.started_at, run_facets, json::array(), inputs)};
  const std::string end = EndType(a);
  if (end.empty() || !a.ended_at) return out;

  std::map<std::int64_t, const DatasetVersionRecord*> read_by_id;
  for (const DatasetVersionRecord& v : e.reads) read_by_id[v.id] = &v;
  json outputs = json::array();
  for (const DatasetVersionRecord& v : e.writes) {
    json d = DatasetJson(v, options);
    json fields = json::object();
    for (const ColumnLineageRecord& c : e.columns) {
      if (c.output_version_id != v.id || read_by_id.count(c.input_version_id) == 0) continue;
      fields[c.output_column]["inputFields"].push_back(
          {{"namespace", options.job_namespace},
           {"name", read_by_id.at(c.input_version_id)->uri},
           {"field", c.input_column}});
    }
    if (!fields.empty()) {
      d["facets"]["columnLineage"] =
          Facet(options, "1-2-0/ColumnLineageDatasetFacet", "ColumnLineageDatasetFacet");
      d["facets"]["columnLineage"]["fields"] = fields;
    }
    json stats = Facet(options, "1-0-2/OutputStatisticsOutputDatasetFacet",
                       "OutputStatisticsOutputDatasetFacet");
    if (v.row_count) stats["rowCount"] = *v.row_count;
    if (v.bytes) stats["size"] = *v.bytes;
    d["outputFacets"]["outputStatistics"] = stats;
    outputs.push_back(std::move(d));
  }
  // What a validate attempt found on the datasets it read.
  json end_inputs = inputs;
  for (json& input : end_inputs) {
    json assertions = json::array();
    for (const CheckResultRecord& c : e.checks) {
      if (c.dataset_uri != input["name"].get<std::string>()) continue;
      json assertion = {{"assertion", c.method.empty() ? c.check : c.check + ":" + c.method},
                        {"success", c.passed},
                        {"severity", c.severity}};
      if (!c.column.empty()) assertion["column"] = c.column;
      if (c.observed) assertion["actual"] = fmt::format("{}", *c.observed);
      if (c.threshold) assertion["expected"] = fmt::format("{}", *c.threshold);
      if (!c.detail.empty()) assertion["description"] = c.detail;
      assertions.push_back(std::move(assertion));
    }
    if (assertions.empty()) continue;
    input["inputFacets"]["dataQualityAssertions"] = Facet(
        options, "1-1-0/DataQualityAssertionsDatasetFacet", "DataQualityAssertionsDatasetFacet");
    input["inputFacets"]["dataQualityAssertions"]["assertions"] = std::move(assertions);
  }
  if (end != "COMPLETE") {
    run_facets["errorMessage"] =
        Facet(options, "1-0-1/ErrorMessageRunFacet", "ErrorMessageRunFacet");
    run_facets["errorMessage"]["message"] = a.reason.empty() ? "failed" : a.reason;
    run_facets["errorMessage"]["programmingLanguage"] = "shell";
  }
  out.push_back(event(end, *a.ended_at, run_facets, outputs, end_inputs));
  return out;
}

}  // namespace weir::state
