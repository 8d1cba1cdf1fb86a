#include "tasks/tasks.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "common/hash.h"
#include "common/secret_mask.h"
#include "common/time.h"
#include "tasks/datasets.h"
#include "tasks/embed.h"
#include "tasks/feature.h"
#include "tasks/ingest.h"
#include "tasks/shell.h"
#include "tasks/transform.h"
#include "tasks/validate.h"

extern char** environ;

namespace weir::tasks {
namespace {

// Appends NAME=value, replacing an earlier entry of the same name.
void SetEnv(std::vector<std::string>* env, std::string_view name, std::string_view value) {
  std::string prefix = std::string(name) + "=";
  std::erase_if(*env, [&](const std::string& e) { return e.starts_with(prefix); });
  env->push_back(prefix + std::string(value));
}

// Values for :name parameters in SQL: each param (typed as its default: a param declared as a
// number binds as one) and each template variable (text; try_number is a number).
std::map<std::string, std::string> SqlBindings(const dags::Dag& dag,
                                               const dags::TemplateContext& context) {
  std::map<std::string, std::string> bindings;
  for (const auto& [name, value] : context.variables) {
    if (name.starts_with("params.")) {
      std::string param = name.substr(7);
      const dags::Value* declared = dag.params.Find(param);
      nlohmann::json typed = value;
      if (declared != nullptr && declared->is_null() && value.empty()) {
        typed = nullptr;  // a param without a value binds as NULL, not as ''
      } else if (declared != nullptr && !declared->is_string() && !declared->is_null()) {
        typed = nlohmann::json::parse(value, nullptr, false);
        if (typed.is_discarded()) typed = value;
      }
      bindings[param] = typed.dump();
    } else if (name == "try_number") {
      bindings[name] = value;
    } else {
      bindings[name] = nlohmann::json(value).dump();
    }
  }
  return bindings;
}

void IntervalOf(const dags::TemplateContext& context, std::string* start, std::string* end) {
  auto s = context.variables.find("data_interval_start");
  auto e = context.variables.find("data_interval_end");
  if (s != context.variables.end()) *start = s->second;
  if (e != context.variables.end()) *end = e->second;
}

std::string Variable(const dags::TemplateContext& context, const std::string& name) {
  auto it = context.variables.find(name);
  return it == context.variables.end() ? "" : it->second;
}

// A config tree with every string rendered, as JSON.
Result<nlohmann::json> RenderTree(const dags::Value& value, const dags::TemplateContext& context,
                                  const std::string& key) {
  switch (value.type()) {
    case dags::Value::Type::kString:
      return RenderText(value, context, dags::Quoting::kNone, key);
    case dags::Value::Type::kList: {
      nlohmann::json out = nlohmann::json::array();
      for (std::size_t i = 0; i < value.AsList().size(); ++i) {
        auto item = RenderTree(value.AsList()[i], context, fmt::format("{}[{}]", key, i));
        if (!item) return item;
        out.push_back(std::move(*item));
      }
      return out;
    }
    case dags::Value::Type::kMap: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [name, item] : value.AsMap()) {
        auto rendered = RenderTree(item, context, key + "." + name);
        if (!rendered) return rendered;
        out[name] = std::move(*rendered);
      }
      return out;
    }
    default:
      return nlohmann::json::parse(value.ToJson());
  }
}

// The write target of an ingest or transform task.
WriteTarget TargetOf(const dags::TaskSpec& task, const dags::TemplateContext& context) {
  WriteTarget target;
  target.into = task.config.Find("into")->AsString();
  if (const dags::Value* mode = task.config.Find("mode")) target.mode = mode->AsString();
  if (const dags::Value* key = task.config.Find("key")) {
    for (const dags::Value& k : key->AsList()) target.key.push_back(k.AsString());
  }
  if (const dags::Value* column = task.config.Find("partition_column")) {
    target.partition_column = column->AsString();
  }
  IntervalOf(context, &target.interval_start, &target.interval_end);
  return target;
}

// The rendered config as recorded (`weir explain`, the cache key): with `command`'s secrets
// masked, should a param or a file hold one. Changing a secret therefore never reruns a task.
std::string MaskSecrets(const Command& command, std::string config_json) {
  if (command.secrets.empty()) return config_json;
  SecretMask mask;
  for (const std::string& secret : command.secrets) mask.Add(secret);
  return mask.Apply(config_json);
}

}  // namespace

bool DeclaresDatasets(const dags::TaskSpec& task) {
  return task.kind != "shell" || task.config.Find("inputs") != nullptr ||
         task.config.Find("outputs") != nullptr;
}

CommandFactory::CommandFactory(TaskOptions options) : options_(std::move(options)) {
  options_.home = std::filesystem::absolute(options_.home).lexically_normal();
  if (options_.weir_binary.empty()) {
    std::error_code ec;
    options_.weir_binary = std::filesystem::read_symlink("/proc/self/exe", ec);
  }
  if (options_.inherit_environment) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("WEIR_")) base_env_.emplace_back(*e);
    }
  }
}

std::filesystem::path CommandFactory::WarehousePath(const dags::Dag& dag) const {
  if (dag.warehouse.empty()) return options_.home / "warehouse.db";
  return (dag.file.parent_path() / dag.warehouse).lexically_normal();
}

Result<Command> CommandFactory::Build(const dags::Dag& dag, const dags::TaskSpec& task,
                                      const dags::TemplateContext& context) const {
  Command command;
  std::vector<std::pair<std::string, std::string>> secrets;
  for (const dags::SecretSources* sources : {&options_.secrets, &dag.secrets}) {
    for (const auto& [name, source] : *sources) {
      auto value = dags::ReadSecret(source, "secrets." + name);
      if (!value) return std::unexpected(value.error());
      ProcessSecrets::Instance().Add(*value);  // so that this process masks it too
      auto same = std::find_if(secrets.begin(), secrets.end(),
                               [&](const auto& s) { return s.first == name; });
      if (same != secrets.end()) secrets.erase(same);
      secrets.emplace_back(name, *value);
      command.secrets.push_back(std::move(*value));
    }
  }
  std::vector<std::string> task_env;
  if (task.kind == "shell") {
    if (auto ok = BuildShellCommand(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
    task_env = std::move(command.env);
    command.env.clear();
  } else if (task.kind == "transform") {
    if (auto ok = BuildTransform(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
  } else if (task.kind == "ingest") {
    if (auto ok = BuildIngest(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
  } else if (task.kind == "validate") {
    if (auto ok = BuildValidate(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
  } else if (task.kind == "embed") {
    if (auto ok = BuildEmbed(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
  } else if (task.kind == "feature") {
    if (auto ok = BuildFeature(dag, task, context, &command); !ok) {
      return std::unexpected(ok.error());
    }
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("task kind '{}' cannot run in this build", task.kind));
  }

  // Environment: weir's own (PATH, HOME, ...), then every template variable as WEIR_*, then the
  // task's `env:`. Params therefore reach scripts safely as "$WEIR_PARAM_NAME".
  // base_env_ holds no WEIR_ variable and variable names are unique (the loader refuses params
  // whose names would clash), so the WEIR_ ones are appended without a search.
  command.env.reserve(base_env_.size() + context.variables.size() + 3 + task_env.size());
  command.env = base_env_;
  for (const auto& [name, value] : context.variables) {
    command.env.push_back(dags::EnvironmentName(name) + "=" + value);
  }
  command.env.push_back("WEIR_HOME=" + options_.home.string());
  command.env.push_back("WEIR_WAREHOUSE=" + WarehousePath(dag).string());
  command.env.push_back("WEIR_DAG_FOLDER=" + dag.file.parent_path().string());
  for (const std::string& entry : task_env) {
    std::size_t eq = entry.find('=');
    SetEnv(&command.env, entry.substr(0, eq), entry.substr(eq + 1));
  }
  for (const auto& [name, value] : secrets) SetEnv(&command.env, name, value);
  if (task.kind == "shell") {
    if (auto ok = WrapForDatasets(dag, task, context, task_env, &command); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return command;
}

DatasetPlace CommandFactory::PlaceOf(const dags::Dag& dag) const {
  return DatasetPlace{dag.file.parent_path(),
                      options_.dags_root.empty() ? dag.file.parent_path() : options_.dags_root,
                      WarehousePath(dag), dag.warehouse.empty()};
}

Result<void> CommandFactory::BuildTransform(const dags::Dag& dag, const dags::TaskSpec& task,
                                            const dags::TemplateContext& context,
                                            Command* command) const {
  const std::filesystem::path dag_dir = dag.file.parent_path();
  std::string sql_text;
  if (const dags::Value* sql = task.config.Find("sql")) {
    sql_text = sql->AsString();
  } else {
    std::filesystem::path file = dag_dir / task.config.Find("sql_file")->AsString();
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("'sql_file': cannot read {}", file.string()));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    sql_text = buffer.str();
  }
  auto parsed = dags::Template::Parse(sql_text);
  if (!parsed) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("'sql': {}", parsed.error().message));
  }
  auto rendered = parsed->Render(context, dags::Quoting::kNone);
  if (!rendered) return std::unexpected(rendered.error());

  TransformConfig transform;
  transform.sql = std::move(*rendered);
  transform.target = TargetOf(task, context);
  if (const dags::Value* script = task.config.Find("script")) transform.script = script->AsBool();
  DatasetPlace place = PlaceOf(dag);
  transform.warehouse = place.warehouse;
  transform.table_uri_prefix = WarehouseUriPrefix(place);
  transform.bindings = SqlBindings(dag, context);
  ManifestSpec spec;
  auto into = ResolveDataset("warehouse://" + transform.target.into, place);
  if (!into) return std::unexpected(into.error());
  spec.outputs.push_back(*into);
  nlohmann::json config = {{"kind", task.kind},
                           {"sql", transform.sql},
                           {"script", transform.script},
                           {"into", into->uri},
                           {"mode", transform.target.mode},
                           {"key", transform.target.key},
                           {"partition_column", transform.target.partition_column},
                           {"bindings", transform.bindings}};
  RunBuiltin("transform", config.dump(), TransformConfigToJson(transform), dag, &spec, command);
  return {};
}

Result<void> CommandFactory::BuildIngest(const dags::Dag& dag, const dags::TaskSpec& task,
                                         const dags::TemplateContext& context,
                                         Command* command) const {
  const dags::Value& source = *task.config.Find("source");
  DatasetPlace place = PlaceOf(dag);
  IngestConfig ingest;
  ingest.task = task.id;
  IngestSource& s = ingest.source;
  s.format = source.Find("format")->AsString();
  auto text = [&](const char* key) -> Result<std::string> {
    const dags::Value* v = source.Find(key);
    if (v == nullptr) return std::string();
    return RenderText(*v, context, dags::Quoting::kNone, std::string("source.") + key);
  };
  auto seconds = [&](const char* key, double* out) {
    if (const dags::Value* v = source.Find(key)) {
      if (auto d = ParseDuration(v->AsString())) *out = static_cast<double>(d->count()) / 1000;
    }
  };
  ManifestSpec spec;
  nlohmann::json config = {{"kind", task.kind}};
  if (s.format == "http") {
    auto url = text("url");
    if (!url) return std::unexpected(url.error());
    s.url = *url;
    s.uri = s.url;
    if (const dags::Value* body = source.Find("body")) s.body = body->AsString();
    if (const dags::Value* headers = source.Find("headers")) {
      for (const auto& [name, variable] : headers->AsMap()) {
        s.headers.emplace_back(name, variable.AsString());
      }
    }
    seconds("timeout", &s.timeout_seconds);
    seconds("backoff", &s.backoff_seconds);
    if (const dags::Value* r = source.Find("retries")) s.retries = static_cast<int>(r->AsInt());
    if (const dags::Value* m = source.Find("max_bytes")) s.max_bytes = m->AsInt();
  } else {
    auto path = text("path");
    if (!path) return std::unexpected(path.error());
    auto file = ResolveDataset("file:" + *path, place);
    if (!file) return Fail(ErrorCode::kInvalidArgument, "'source.path': " + file.error().message);
    s.path = file->path;
    s.uri = file->uri;
    if (s.format == "sqlite") {
      // Its tables are learned from the query, in the child: sqlite://REL#TABLE.
      s.uri = "sqlite://" + file->uri.substr(5) + "#";
      auto query = text("query");
      if (!query) return std::unexpected(query.error());
      s.query = *query;
      ingest.bindings = SqlBindings(dag, context);
    } else {
      spec.inputs.push_back(*file);
    }
  }
  if (const dags::Value* d = source.Find("delimiter")) s.delimiter = d->AsString()[0];
  if (const dags::Value* q = source.Find("quote")) s.quote = q->AsString()[0];
  if (const dags::Value* h = source.Find("header")) s.header = h->AsBool();
  if (const dags::Value* nulls = source.Find("null_values")) {
    s.null_values.clear();
    for (const dags::Value& n : nulls->AsList()) s.null_values.push_back(n.AsString());
  }
  if (const dags::Value* m = source.Find("max_field_bytes")) {
    s.max_field_bytes = static_cast<std::size_t>(m->AsInt());
  }
  if (const dags::Value* columns = task.config.Find("columns")) {
    for (const auto& [name, type] : columns->AsMap())
      ingest.columns.emplace_back(name, type.AsString());
  }
  if (const dags::Value* n = task.config.Find("infer_rows"))
    ingest.infer_rows = static_cast<int>(n->AsInt());
  if (const dags::Value* b = task.config.Find("on_bad_row")) ingest.on_bad_row = b->AsString();
  ingest.target = TargetOf(task, context);
  ingest.quarantine_table = ingest.target.into + "_quarantine";
  if (const dags::Value* q = task.config.Find("quarantine_table"))
    ingest.quarantine_table = q->AsString();
  ingest.warehouse = place.warehouse;
  ingest.table_uri_prefix = WarehouseUriPrefix(place);
  ingest.run_id = Variable(context, "run_id");
  ingest.try_number = std::atoi(Variable(context, "try_number").c_str());

  auto into = ResolveDataset("warehouse://" + ingest.target.into, place);
  if (!into) return std::unexpected(into.error());
  spec.outputs.push_back(*into);
  if (ingest.on_bad_row == "quarantine") {
    auto quarantine = ResolveDataset("warehouse://" + ingest.quarantine_table, place);
    if (!quarantine) return std::unexpected(quarantine.error());
    spec.outputs.push_back(*quarantine);
  }
  // What the cache key covers: the config as rendered, without the run's own identity.
  nlohmann::json hashed = nlohmann::json::parse(IngestConfigToJson(ingest));
  for (const char* own : {"run_id", "try_number", "warehouse", "task"}) hashed.erase(own);
  hashed["source"].erase("path");
  if (ingest.target.mode != "partition") {
    hashed.erase("interval_start");
    hashed.erase("interval_end");
  }
  config.update(hashed);
  config["into"] = into->uri;
  RunBuiltin("ingest", config.dump(), IngestConfigToJson(ingest), dag, &spec, command);
  return {};
}

Result<void> CommandFactory::BuildValidate(const dags::Dag& dag, const dags::TaskSpec& task,
                                           const dags::TemplateContext& context,
                                           Command* command) const {
  DatasetPlace place = PlaceOf(dag);
  auto uri = RenderText(*task.config.Find("dataset"), context, dags::Quoting::kNone, "dataset");
  if (!uri) return std::unexpected(uri.error());
  auto dataset = ResolveDataset(*uri, place);
  if (!dataset) return Fail(ErrorCode::kInvalidArgument, "'dataset': " + dataset.error().message);
  if (dataset->table.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("'dataset': {} is not a table; validate checks tables", dataset->uri));
  }
  auto checks = RenderTree(*task.config.Find("checks"), context, "checks");
  if (!checks) return std::unexpected(checks.error());
  ValidateConfig validate;
  validate.task = task.id;
  validate.dataset = dataset->uri;
  validate.path = dataset->path;
  validate.table = dataset->table;
  validate.checks_json = checks->dump();
  validate.bindings = SqlBindings(dag, context);
  validate.interval_end = Variable(context, "data_interval_end");

  ManifestSpec spec;
  spec.inputs.push_back(*dataset);
  nlohmann::json config = {{"kind", task.kind}, {"dataset", dataset->uri}, {"checks", *checks}};
  RunBuiltin("validate", config.dump(), ValidateConfigToJson(validate), dag, &spec, command);
  return {};
}

Result<void> CommandFactory::BuildEmbed(const dags::Dag& dag, const dags::TaskSpec& task,
                                        const dags::TemplateContext& /*context*/,
                                        Command* command) const {
  EmbedConfig embed;
  embed.task = task.id;
  const dags::Value& source = *task.config.Find("source");
  embed.table = source.Find("table")->AsString();
  embed.id_column = source.Find("id")->AsString();
  embed.text_column = source.Find("text")->AsString();
  if (const dags::Value* chunk = task.config.Find("chunk")) {
    if (const dags::Value* unit = chunk->Find("unit")) embed.chunk.unit = unit->AsString();
    if (const dags::Value* size = chunk->Find("size"))
      embed.chunk.size = static_cast<int>(size->AsInt());
    if (const dags::Value* overlap = chunk->Find("overlap")) {
      embed.chunk.overlap = static_cast<int>(overlap->AsInt());
    } else {
      embed.chunk.overlap = std::min(embed.chunk.overlap, embed.chunk.size / 2);
    }
  }
  const dags::Value& provider = *task.config.Find("provider");
  ProviderConfig& p = embed.provider;
  p.kind = provider.Find("kind")->AsString();
  auto text = [&](const char* key, std::string* out) {
    if (const dags::Value* v = provider.Find(key)) *out = v->AsString();
  };
  auto number = [&](const char* key, auto* out) {
    if (const dags::Value* v = provider.Find(key))
      *out = static_cast<std::decay_t<decltype(*out)>>(v->AsInt());
  };
  auto seconds = [&](const char* key, double* out) {
    if (const dags::Value* v = provider.Find(key)) {
      *out = static_cast<double>(ParseDuration(v->AsString())->count()) / 1000;
    }
  };
  number("dim", &p.dim);
  text("base_url", &p.base_url);
  while (p.base_url.ends_with("/")) p.base_url.pop_back();
  text("model", &p.model);
  text("api_key_env", &p.api_key_env);
  number("batch", &p.batch);
  number("batch_chars", &p.batch_chars);
  number("max_concurrency", &p.max_concurrency);
  number("dimensions", &p.dimensions);
  number("retries", &p.retries);
  seconds("timeout", &p.timeout_seconds);
  seconds("backoff", &p.backoff_seconds);
  embed.into = task.config.Find("into")->AsString();
  DatasetPlace place = PlaceOf(dag);
  embed.warehouse = place.warehouse;
  embed.table_uri_prefix = WarehouseUriPrefix(place);

  ManifestSpec spec;
  spec.inputs.push_back({embed.table_uri_prefix + embed.table, place.warehouse, embed.table});
  auto into = ResolveDataset("warehouse://" + embed.into, place);
  if (!into) return std::unexpected(into.error());
  spec.outputs.push_back(*into);
  if (const dags::Value* index = task.config.Find("index")) {
    auto file = ResolveDataset("file:" + index->Find("path")->AsString(), place);
    if (!file) return Fail(ErrorCode::kInvalidArgument, "'index.path': " + file.error().message);
    embed.index_path = file->path;
    if (const dags::Value* factory = index->Find("factory"))
      embed.index.factory = factory->AsString();
    if (const dags::Value* metric = index->Find("metric")) embed.index.metric = metric->AsString();
    spec.outputs.push_back(*file);
    auto manifest = ResolveDataset(file->uri + ".manifest.json", place);
    if (!manifest) return std::unexpected(manifest.error());
    spec.outputs.push_back(*manifest);
  }
  nlohmann::json hashed = nlohmann::json::parse(EmbedConfigToJson(embed));
  for (const char* own : {"task", "warehouse", "table_uri_prefix", "index_path"}) hashed.erase(own);
  hashed["kind"] = task.kind;
  hashed["into"] = into->uri;
  if (!embed.index_path.empty()) hashed["index"] = spec.outputs[1].uri;
  RunBuiltin("embed", hashed.dump(), EmbedConfigToJson(embed), dag, &spec, command);
  return {};
}

Result<void> CommandFactory::BuildFeature(const dags::Dag& dag, const dags::TaskSpec& task,
                                          const dags::TemplateContext& context,
                                          Command* command) const {
  FeatureConfig feature;
  feature.task = task.id;
  auto side = [](const dags::Value& map, FeatureConfig::Side* out) {
    out->table = map.Find("table")->AsString();
    const dags::Value& entity = *map.Find("entity");
    if (entity.is_string()) {
      out->entity = {entity.AsString()};
    } else {
      for (const dags::Value& column : entity.AsList()) out->entity.push_back(column.AsString());
    }
    out->timestamp = map.Find("timestamp")->AsString();
    if (const dags::Value* available = map.Find("available_at")) {
      out->available_at = available->AsString();
    }
  };
  side(*task.config.Find("labels"), &feature.labels);
  side(*task.config.Find("events"), &feature.events);
  if (const dags::Value* as_of = task.config.Find("as_of")) {
    if (const dags::Value* boundary = as_of->Find("boundary")) {
      feature.inclusive = boundary->AsString() == "inclusive";
    }
    if (const dags::Value* delay = as_of->Find("delay")) {
      feature.delay_ms = ParseDuration(delay->AsString())->count();
    }
  }
  for (const dags::Value& f : task.config.Find("features")->AsList()) {
    FeatureSpec spec{.name = f.Find("name")->AsString(), .agg = f.Find("agg")->AsString()};
    if (const dags::Value* column = f.Find("column")) spec.column = column->AsString();
    if (const dags::Value* window = f.Find("window")) {
      spec.window_ms = ParseDuration(window->AsString())->count();
    }
    feature.features.push_back(std::move(spec));
  }
  feature.target = TargetOf(task, context);
  DatasetPlace place = PlaceOf(dag);
  feature.warehouse = place.warehouse;
  feature.table_uri_prefix = WarehouseUriPrefix(place);

  ManifestSpec spec;
  auto into = ResolveDataset("warehouse://" + feature.target.into, place);
  if (!into) return std::unexpected(into.error());
  spec.outputs.push_back(*into);
  // What the cache key covers: the config without the run's own identity; the interval only
  // where it selects the labels.
  nlohmann::json hashed = nlohmann::json::parse(FeatureConfigToJson(feature));
  for (const char* own : {"task", "warehouse", "table_uri_prefix"}) hashed.erase(own);
  if (feature.target.mode != "partition") {
    hashed.erase("interval_start");
    hashed.erase("interval_end");
  }
  hashed["kind"] = task.kind;
  hashed["into"] = into->uri;
  RunBuiltin("feature", hashed.dump(), FeatureConfigToJson(feature), dag, &spec, command);
  return {};
}

void CommandFactory::RunBuiltin(std::string_view kind, std::string config_json,
                                std::string builtin_config, const dags::Dag& dag,
                                ManifestSpec* spec, Command* command) const {
  spec->config_json = MaskSecrets(*command, std::move(config_json));
  spec->config_hash = "sha256:" + Sha256Hex(spec->config_json);
  spec->kind_version = std::string(kind) + "/1";
  spec->builtin = kind;
  spec->builtin_config = std::move(builtin_config);
  command->argv = {options_.weir_binary.string(), "task", "run", "--spec", SpecToJson(*spec)};
  command->cwd = dag.file.parent_path().string();
}

Result<void> CommandFactory::WrapForDatasets(const dags::Dag& dag, const dags::TaskSpec& task,
                                             const dags::TemplateContext& context,
                                             const std::vector<std::string>& task_env,
                                             Command* command) const {
  if (!DeclaresDatasets(task)) return {};
  const dags::Value* inputs = task.config.Find("inputs");
  const dags::Value* outputs = task.config.Find("outputs");
  DatasetPlace place = PlaceOf(dag);
  ManifestSpec spec;
  nlohmann::json config = {{"kind", task.kind},
                           {"argv", command->argv},
                           {"cwd", command->cwd},
                           {"env", task_env},
                           {"inputs", nlohmann::json::array()},
                           {"outputs", nlohmann::json::array()}};
  for (auto [list, key, into] : {std::tuple{inputs, "inputs", &spec.inputs},
                                 std::tuple{outputs, "outputs", &spec.outputs}}) {
    if (list == nullptr) continue;
    for (const dags::Value& item : list->AsList()) {
      auto parsed = dags::Template::Parse(item.AsString());
      if (!parsed) return std::unexpected(parsed.error());
      auto rendered = parsed->Render(context, dags::Quoting::kNone);
      if (!rendered) return std::unexpected(rendered.error());
      auto resolved = ResolveDataset(*rendered, place);
      if (!resolved) {
        return Fail(ErrorCode::kInvalidArgument,
                    fmt::format("'{}': {}", key, resolved.error().message));
      }
      config[key].push_back(resolved->uri);
      into->push_back(std::move(*resolved));
    }
  }
  spec.config_json = MaskSecrets(*command, config.dump());
  spec.config_hash = "sha256:" + Sha256Hex(spec.config_json);
  spec.kind_version = task.kind + "/1";
  std::vector<std::string> argv = {
      options_.weir_binary.string(), "task", "run", "--spec", SpecToJson(spec), "--"};
  argv.insert(argv.end(), command->argv.begin(), command->argv.end());
  command->argv = std::move(argv);
  return {};
}

}  // namespace weir::tasks
