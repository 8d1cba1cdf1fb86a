// YAML -> Value (with locations, duplicate-key detection and resource limits), then
// Value -> Dag (types, defaults, kinds, templates, graph). Every problem becomes a Diagnostic;
// loading goes on after an error so that one pass reports all of them.
#include <fmt/format.h>
#include <sys/stat.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "common/hash.h"
#include "common/strings.h"
#include "dags/dags.h"
#include "dags/kinds.h"
#include "dags/template.h"

namespace weir::dags {
namespace {

using Diagnostics = std::vector<Diagnostic>;

SourceLocation LocationAt(const std::string& file, std::string_view text, std::size_t offset) {
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;  // in bytes, like the marks of yaml-cpp, so all columns of a file agree
    }
  }
  return SourceLocation{file, line, column};
}

// ---------------------------------------------------------------------------------------------
// YAML -> Value

// Builds the Value tree straight from yaml-cpp's parser events, without yaml-cpp's own node
// tree (building and freeing that was over a third of loading a large DAG). Checks as it goes:
// duplicate keys (an error, loading goes on), and the fatal limits on nesting and on nodes
// (aliases expanded), which stop the parse at once.
class YamlReader final : public YAML::EventHandler {
 public:
  // Thrown (and caught in Read) to stop the parse after a fatal error has been recorded.
  struct Stop {};

  // `text_bytes`: the document's size. Written out, every node takes at least a byte, so a
  // document that expands to more nodes than it has bytes does so through aliases.
  YamlReader(const std::string& file, const LoadOptions& options, std::size_t text_bytes,
             Diagnostics* errors)
      : file_(file),
        options_(options),
        max_nodes_(std::min(options.max_nodes, std::max<std::size_t>(10'000, text_bytes))),
        errors_(errors) {}

  // Reads the next document of `parser`: nullopt when there is none, or after recording a
  // fatal error (then failed()). yaml-cpp's exceptions (invalid YAML) pass through.
  std::optional<Value> Read(YAML::Parser& parser) {
    root_.reset();
    if (failed_) return std::nullopt;
    try {
      if (!parser.HandleNextDocument(*this)) return std::nullopt;
    } catch (const Stop&) {
      failed_ = true;
      return std::nullopt;
    }
    if (!root_) root_.emplace();  // an empty document
    return std::move(root_);
  }

  bool failed() const { return failed_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string&) override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (TakeKey(mark, nullptr)) return;
    Value v;
    v.loc = Loc(mark);
    Complete(std::move(v), Count(mark, 1), anchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    Value v = Scalar(tag, text);
    v.loc = Loc(mark);
    if (TakeKey(mark, &text)) {
      if (anchor != YAML::NullAnchor) anchors_.insert_or_assign(anchor, std::pair{v, 1});
      return;
    }
    Complete(std::move(v), Count(mark, 1), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto found = anchors_.find(anchor);
    if (found == anchors_.end()) {
      // yaml-cpp refuses an alias to an unknown anchor; this one's node is still being read.
      Fatal(mark,
            "an alias inside the node of its own anchor (a node cannot contain itself); "
            "refusing to load it");
    }
    const auto& [value, nodes] = found->second;
    if (!stack_.empty() && stack_.back().AwaitsKey()) {
      if (!value.is_scalar() || value.is_null()) Fatal(mark, "map keys must be plain text");
      std::string text = value.ToText();
      TakeKey(mark, &text);
      return;
    }
    Complete(Value(value), Count(mark, nodes), YAML::NullAnchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, Value::MakeList({}), anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, Value::MakeMap({}), anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  // A list or map being read.
  struct Frame {
    Value value;
    YAML::anchor_t anchor;
    std::size_t nodes = 1;  // in this subtree so far, aliases expanded
    // Maps only: the key whose value comes next, and the keys seen (by first line).
    std::optional<std::string> key;
    SourceLocation key_loc;
    bool duplicate = false;  // the pending key was seen before: its value is checked, not kept
    std::map<std::string, int, std::less<>> seen;
    bool AwaitsKey() const { return value.is_map() && !key; }
  };

  // Counts `nodes` more nodes at a node starting at `mark`; stops at either limit.
  std::size_t Count(const YAML::Mark& mark, std::size_t nodes) {
    if (stack_.size() > static_cast<std::size_t>(options_.max_depth)) {
      Fatal(mark,
            fmt::format("nesting deeper than {} levels; refusing to load it", options_.max_depth));
    }
    nodes_ += nodes;
    if (nodes_ > max_nodes_) {
      Fatal(mark, fmt::format("the document expands to more than {} YAML nodes through "
                              "aliases (an alias bomb?); refusing to load it",
                              max_nodes_));
    }
    return nodes;
  }

  // When the innermost map waits for a key, takes this node as that key: `text` is its text, or
  // nullptr for a node that is not plain text. Returns false when no key is awaited.
  bool TakeKey(const YAML::Mark& mark, const std::string* text) {
    if (stack_.empty() || !stack_.back().AwaitsKey()) return false;
    if (text == nullptr) Fatal(mark, "map keys must be plain text");
    Frame& map = stack_.back();
    map.key = *text;
    map.key_loc = Loc(mark);
    auto [it, inserted] = map.seen.emplace(*text, map.key_loc.line);
    map.duplicate = !inserted;
    if (!inserted) {
      errors_->push_back({map.key_loc, fmt::format("duplicate key '{}' (first at line {})",
                                                   Printable(*text), it->second)});
    }
    return true;
  }

  void Open(const YAML::Mark& mark, Value container, YAML::anchor_t anchor) {
    if (!stack_.empty() && stack_.back().AwaitsKey()) Fatal(mark, "map keys must be plain text");
    Count(mark, 1);
    container.loc = Loc(mark);
    stack_.push_back(Frame{std::move(container), anchor});
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Complete(std::move(frame.value), frame.nodes, frame.anchor);
  }

  // A whole node has been read: keeps it for its anchor and puts it in its place.
  void Complete(Value v, std::size_t nodes, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) anchors_.insert_or_assign(anchor, std::pair{v, nodes});
    if (stack_.empty()) {
      root_ = std::move(v);
      return;
    }
    Frame& parent = stack_.back();
    parent.nodes += nodes;
    if (parent.value.is_list()) {
      parent.value.AsList().push_back(std::move(v));
      return;
    }
    // An empty value has no place of its own (yaml-cpp marks whatever follows): its key's.
    if (v.is_null()) v.loc = parent.key_loc;
    v.key_loc = parent.key_loc;
    if (!parent.duplicate) parent.value.AsMap().emplace_back(std::move(*parent.key), std::move(v));
    parent.key.reset();
  }

  SourceLocation Loc(const YAML::Mark& mark) const {
    if (mark.is_null()) return SourceLocation{file_, 0, 0};
    return SourceLocation{file_, mark.line + 1, mark.column + 1};
  }

  [[noreturn]] void Fatal(const YAML::Mark& mark, std::string message) {
    errors_->push_back({Loc(mark), std::move(message)});
    throw Stop{};
  }

  // Plain scalars follow the YAML 1.2 core schema; quoted ones ("!" tag) are always strings.
  static Value Scalar(const std::string& tag, const std::string& text) {
    if (tag != "?") return Value::String(text);
    if (text == "true" || text == "True" || text == "TRUE") return Value::Bool(true);
    if (text == "false" || text == "False" || text == "FALSE") return Value::Bool(false);
    if (text == "~" || text == "null" || text == "Null" || text == "NULL") return Value();
    if (text.empty() || text.size() >= 40) return Value::String(text);
    if (IsCoreInt(text)) {
      std::int64_t i = 0;
      const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
      auto [end, ec] = std::from_chars(begin, text.data() + text.size(), i);
      if (ec == std::errc() && end == text.data() + text.size()) return Value::Int(i);
      return Value::String(text);  // out of range
    }
    if (IsCoreFloat(text)) {
      try {
        return Value::Double(std::stod(text));
      } catch (const std::exception&) {
        return Value::String(text);
      }
    }
    return Value::String(text);
  }

  // [-+]?[0-9]+
  static bool IsCoreInt(std::string_view t) {
    if (t[0] == '-' || t[0] == '+') t.remove_prefix(1);
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return IsDigit(c); });
  }

  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  static bool IsCoreFloat(std::string_view t) {
    std::size_t i = 0;
    auto digits = [&] {
      std::size_t from = i;
      while (i < t.size() && IsDigit(t[i])) ++i;
      return i - from;
    };
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    if (digits() > 0) {
      if (i < t.size() && t[i] == '.') {
        ++i;
        digits();
      }
    } else if (i >= t.size() || t[i] != '.' || (++i, digits() == 0)) {
      return false;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
      ++i;
      if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
      if (digits() == 0) return false;
    }
    return i == t.size();
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  const std::string& file_;
  const LoadOptions& options_;
  std::size_t max_nodes_;
  Diagnostics* errors_;
  std::size_t nodes_ = 0;
  bool failed_ = false;
  std::vector<Frame> stack_;
  std::optional<Value> root_;
  std::map<YAML::anchor_t, std::pair<Value, std::size_t>> anchors_;  // value, its node count
};

// An istream over text that is not copied.
class ViewStream : private std::streambuf, public std::istream {
 public:
  explicit ViewStream(std::string_view text) : std::istream(this) {
    char* begin = const_cast<char*>(text.data());
    setg(begin, begin, begin + text.size());
  }
};

// ---------------------------------------------------------------------------------------------
// Value -> Dag

const std::vector<std::string> kDagKeys = {"dag",
                                           "description",
                                           "schedule",
                                           "timezone",
                                           "start_date",
                                           "end_date",
                                           "catchup",
                                           "max_active_runs",
                                           "max_active_tasks",
                                           "params",
                                           "warehouse",
                                           "defaults",
                                           "secrets",
                                           "tasks"};
// Keys every task may have, whatever its kind. `defaults:` takes all but kind and deps.
const std::vector<std::string> kTaskKeys = {
    "kind",    "deps",        "description",     "trigger_rule",
    "retries", "retry_delay", "retry_backoff",   "max_retry_delay",
    "timeout", "pool",        "priority_weight", "cache"};

bool IsId(std::string_view id) {
  if (id.empty() || id.size() > 250 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

class DagBuilder {
 public:
  DagBuilder(Diagnostics* errors) : errors_(errors) {}

  void Error(const Value& at, std::string message) {
    errors_->push_back({at.loc, std::move(message)});
  }

  void CheckKeys(const Value& map, const std::vector<std::string>& allowed, std::string_view what) {
    CheckKnownKeys(map, allowed, what, errors_);
  }

  std::optional<std::string> String(const Value* v, std::string_view key) {
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
      Error(*v, fmt::format("'{}' must be a string, not {}", key, Value::TypeName(v->type())));
      return std::nullopt;
    }
    return v->AsString();
  }

  std::optional<std::int64_t> Int(const Value* v, std::string_view key, std::int64_t min,
                                  std::int64_t max) {
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->type() != Value::Type::kInt) {
      Error(*v,
            fmt::format("'{}' must be a whole number, not {}", key, Value::TypeName(v->type())));
      return std::nullopt;
    }
    if (v->AsInt() < min || v->AsInt() > max) {
      Error(*v, fmt::format("'{}' must be between {} and {}", key, min, max));
      return std::nullopt;
    }
    return v->AsInt();
  }

  std::optional<bool> Bool(const Value* v, std::string_view key) {
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->type() != Value::Type::kBool) {
      Error(*v, fmt::format("'{}' must be true or false", key));
      return std::nullopt;
    }
    return v->AsBool();
  }

  std::optional<Duration> DurationValue(const Value* v, std::string_view key, bool positive) {
    auto text = String(v, key);
    if (!text) return std::nullopt;
    auto d = ParseDuration(*text);
    if (!d) {
      Error(*v, fmt::format("'{}': {}", key, d.error().message));
      return std::nullopt;
    }
    if (positive && d->count() <= 0) {
      Error(*v, fmt::format("'{}' must be greater than zero", key));
      return std::nullopt;
    }
    return *d;
  }

  std::optional<CivilDate> Date(const Value* v, std::string_view key) {
    auto text = String(v, key);
    if (!text) return std::nullopt;
    auto d = ParseDate(*text);
    if (!d) {
      Error(*v, fmt::format("'{}': {}", key, d.error().message));
      return std::nullopt;
    }
    return *d;
  }

  // Applies the common task keys found in `map` (a task or `defaults:`) onto `task`.
  void ApplyCommonKeys(const Value& map, TaskSpec* task) {
    if (auto d = String(map.Find("description"), "description")) task->description = *d;
    if (const Value* v = map.Find("trigger_rule")) {
      if (auto name = String(v, "trigger_rule")) {
        if (auto rule = ParseTriggerRule(*name)) {
          task->trigger_rule = *rule;
        } else {
          auto hint = ClosestMatch(*name, TriggerRuleNames());
          Error(*v, fmt::format("unknown trigger_rule '{}'{}", Printable(*name),
                                hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
        }
      }
    }
    if (auto r = Int(map.Find("retries"), "retries", 0, 100)) task->retry.retries = int(*r);
    if (auto d = DurationValue(map.Find("retry_delay"), "retry_delay", false)) {
      task->retry.retry_delay = *d;
    }
    if (auto d = DurationValue(map.Find("max_retry_delay"), "max_retry_delay", false)) {
      task->retry.max_retry_delay = *d;
    }
    if (const Value* v = map.Find("retry_backoff")) {
      if (auto name = String(v, "retry_backoff")) {
        if (*name == "fixed") {
          task->retry.backoff = Backoff::kFixed;
        } else if (*name == "exponential") {
          task->retry.backoff = Backoff::kExponential;
        } else {
          Error(*v, fmt::format("retry_backoff must be 'fixed' or 'exponential', not '{}'",
                                Printable(*name)));
        }
      }
    }
    if (auto d = DurationValue(map.Find("timeout"), "timeout", true)) task->timeout = *d;
    if (const Value* v = map.Find("pool")) {
      if (auto name = String(v, "pool")) {
        if (IsId(*name)) {
          task->pool = *name;
        } else {
          Error(*v, fmt::format("bad pool name '{}' (letters, digits, _ . -)", Printable(*name)));
        }
      }
    }
    if (auto p = Int(map.Find("priority_weight"), "priority_weight", -1'000'000, 1'000'000)) {
      task->priority_weight = int(*p);
    }
    if (auto c = Bool(map.Find("cache"), "cache")) task->cache = *c;
  }

  // Every string in a task's config is a template whose variables must be known.
  void CheckTemplates(const Value& v, const std::set<std::string>& known) {
    if (v.is_string()) {
      auto t = Template::Parse(v.AsString());
      if (!t) {
        Error(v, t.error().message);
        return;
      }
      for (const std::string& name : t->Variables()) {
        if (known.count(name) != 0) continue;
        std::vector<std::string> candidates(known.begin(), known.end());
        auto hint = ClosestMatch(name, candidates);
        std::string why =
            name.starts_with("params.")
                ? fmt::format("param '{}' is not declared in 'params:'", name.substr(7))
                : fmt::format("unknown template variable '{}'", name);
        Error(v, hint ? fmt::format("{} (did you mean '{}'?)", why, *hint) : why);
      }
    } else if (v.is_list()) {
      for (const Value& item : v.AsList()) CheckTemplates(item, known);
    } else if (v.is_map()) {
      for (const auto& [key, item] : v.AsMap()) CheckTemplates(item, known);
    }
  }

  std::shared_ptr<Dag> Build(const Value& root, const LoadOptions& options,
                             std::string* dag_id_out) {
    if (!root.is_map()) {
      Error(root, "a DAG file must be a map with at least 'dag:' and 'tasks:'");
      return nullptr;
    }
    std::size_t errors_before = errors_->size();
    auto dag = std::make_shared<Dag>();
    dag->loc = root.loc;
    CheckKeys(root, kDagKeys, "the DAG");

    const Value* id = root.Find("dag");
    if (id == nullptr || id->is_null()) {
      Error(id == nullptr ? root : *id, "missing 'dag:' (the DAG's id)");
    } else if (auto text = String(id, "dag")) {
      if (IsId(*text)) {
        dag->id = *text;
        *dag_id_out = *text;
      } else {
        Error(*id, fmt::format("bad DAG id '{}': use letters, digits, '_', '.' and '-'",
                               Printable(*text)));
      }
    }
    if (auto d = String(root.Find("description"), "description")) dag->description = *d;
    if (const Value* v = root.Find("schedule"); v != nullptr && !v->is_null()) {
      if (auto text = String(v, "schedule")) {
        auto schedule = Schedule::Parse(*text);
        if (schedule) {
          dag->schedule = *schedule;
        } else {
          Error(*v, schedule.error().message);
        }
      }
    }
    if (const Value* v = root.Find("timezone")) {
      if (auto zone = String(v, "timezone")) {
        if (IsKnownZone(*zone)) {
          dag->timezone = *zone;
        } else {
          Error(*v, fmt::format("unknown time zone '{}' (use an IANA name such as "
                                "Europe/Berlin or UTC)",
                                Printable(*zone)));
        }
      }
    }
    dag->start_date = Date(root.Find("start_date"), "start_date");
    dag->end_date = Date(root.Find("end_date"), "end_date");
    if (dag->start_date && dag->end_date && *dag->end_date < *dag->start_date) {
      Error(*root.Find("end_date"), "'end_date' is before 'start_date'");
    }
    if (auto c = Bool(root.Find("catchup"), "catchup")) dag->catchup = *c;
    if (auto n = Int(root.Find("max_active_runs"), "max_active_runs", 1, 10'000)) {
      dag->max_active_runs = int(*n);
    }
    if (auto n = Int(root.Find("max_active_tasks"), "max_active_tasks", 1, 100'000)) {
      dag->max_active_tasks = int(*n);
    }
    if (auto w = String(root.Find("warehouse"), "warehouse")) dag->warehouse = *w;
    if (const Value* secrets = root.Find("secrets")) {
      // Never the value itself: DAG files are shared and versioned. A relative file is made
      // absolute once the DAG's file is known (LoadOne).
      dag->secrets = ParseSecrets(*secrets, "secrets", {}, /*allow_value=*/false, errors_);
    }

    std::set<std::string> variables(BuiltinVariables().begin(), BuiltinVariables().end());
    if (const Value* params = root.Find("params"); params != nullptr && !params->is_null()) {
      if (!params->is_map()) {
        Error(*params, "'params' must be a map of name: default value");
      } else {
        for (const auto& [name, value] : params->AsMap()) {
          if (!IsIdentifier(name)) {
            errors_->push_back(
                {value.key_loc,
                 fmt::format("bad param name '{}': use letters, digits and '_'", Printable(name))});
          } else if (!value.is_scalar()) {
            Error(value, fmt::format("param '{}' must have a scalar default (text, number, "
                                     "boolean or null)",
                                     name));
          } else if (auto clash =
                         std::find_if(dag->params.AsMap().begin(), dag->params.AsMap().end(),
                                      [&](const auto& p) {
                                        return EnvironmentName("params." + p.first) ==
                                               EnvironmentName("params." + name);
                                      });
                     clash != dag->params.AsMap().end()) {
            errors_->push_back(
                {value.key_loc,
                 fmt::format("params '{}' and '{}' would both be exported as {}", clash->first,
                             name, EnvironmentName("params." + name))});
          } else {
            dag->params.AsMap().emplace_back(name, value);
            variables.insert("params." + name);
          }
        }
      }
    }

    TaskSpec defaults;
    if (const Value* d = root.Find("defaults"); d != nullptr && !d->is_null()) {
      if (!d->is_map()) {
        Error(*d, "'defaults' must be a map of task keys");
      } else {
        std::vector<std::string> allowed(kTaskKeys.begin() + 2, kTaskKeys.end());
        CheckKeys(*d, allowed, "defaults");
        ApplyCommonKeys(*d, &defaults);
      }
    }

    const Value* tasks = root.Find("tasks");
    if (tasks == nullptr) {
      Error(root, "missing 'tasks:' (a map of task id to task)");
    } else if (!tasks->is_map() || tasks->AsMap().empty()) {
      Error(*tasks, "'tasks' must be a map of task id to task, with at least one task");
    } else if (tasks->AsMap().size() > options.max_tasks) {
      Error(*tasks, fmt::format("{} tasks is more than the limit of {}", tasks->AsMap().size(),
                                options.max_tasks));
    } else {
      BuildTasks(*tasks, defaults, variables, dag.get());
    }
    if (errors_->size() != errors_before) return nullptr;
    return dag;
  }

  void BuildTasks(const Value& tasks, const TaskSpec& defaults,
                  const std::set<std::string>& variables, Dag* dag) {
    std::map<std::string, int> index;
    for (const auto& [id, body] : tasks.AsMap()) {
      TaskSpec task = defaults;
      task.id = id;
      task.loc = body.key_loc;
      if (!IsId(id)) {
        errors_->push_back(
            {body.key_loc, fmt::format("bad task id '{}': use letters, digits, '_', '.' and '-'",
                                       Printable(id))});
      }
      index.emplace(id, static_cast<int>(dag->tasks.size()));
      if (!body.is_map()) {
        Error(body, fmt::format("task '{}' must be a map with at least 'kind:'", Printable(id)));
        dag->tasks.push_back(std::move(task));
        continue;
      }
      const Value* kind = body.Find("kind");
      if (kind == nullptr || kind->is_null()) {
        Error(kind == nullptr ? body : *kind,
              fmt::format("task '{}' has no 'kind:' (one of: {})", Printable(id),
                          fmt::join(KnownKinds(), ", ")));
      } else if (auto name = String(kind, "kind")) {
        const auto& kinds = KnownKinds();
        if (std::find(kinds.begin(), kinds.end(), *name) == kinds.end()) {
          auto hint = ClosestMatch(*name, kinds);
          Error(*kind,
                fmt::format("unknown task kind '{}'{}", Printable(*name),
                            hint ? fmt::format(" (did you mean '{}'?)", *hint)
                                 : fmt::format(" (known kinds: {})", fmt::join(kinds, ", "))));
        } else {
          task.kind = *name;
        }
      }
      std::vector<std::string> allowed = kTaskKeys;
      const auto& kind_keys = KindKeys(task.kind);
      allowed.insert(allowed.end(), kind_keys.begin(), kind_keys.end());
      if (!task.kind.empty()) CheckKeys(body, allowed, fmt::format("{} task", task.kind));
      ApplyCommonKeys(body, &task);
      if (const Value* deps = body.Find("deps"); deps != nullptr && !deps->is_null()) {
        if (deps->is_string()) {
          task.deps.push_back(deps->AsString());
        } else if (deps->is_list()) {
          for (const Value& dep : deps->AsList()) {
            if (!dep.is_string()) {
              Error(dep, "each dep must be a task id");
            } else if (std::find(task.deps.begin(), task.deps.end(), dep.AsString()) ==
                       task.deps.end()) {
              task.deps.push_back(dep.AsString());
            }
          }
        } else {
          Error(*deps, "'deps' must be a list of task ids");
        }
      }
      Value::Map config;
      for (const auto& [key, value] : body.AsMap()) {
        if (std::find(kind_keys.begin(), kind_keys.end(), key) != kind_keys.end()) {
          config.emplace_back(key, value);
        }
      }
      task.config = Value::MakeMap(std::move(config));
      task.config.loc = body.loc;
      if (!task.kind.empty()) {
        ValidateKindConfig(task.kind, task.config, errors_);
        CheckTemplates(task.config, variables);
      }
      dag->tasks.push_back(std::move(task));
    }

    std::vector<std::pair<int, int>> edges;
    std::vector<std::string> names;
    bool deps_ok = true;
    for (const TaskSpec& task : dag->tasks) names.push_back(task.id);
    for (int v = 0; v < static_cast<int>(dag->tasks.size()); ++v) {
      const TaskSpec& task = dag->tasks[v];
      const Value* deps_value = tasks.AsMap()[v].second.Find("deps");
      for (const std::string& dep : task.deps) {
        // Point at the dep as written ("- b" in a block list), else at 'deps:' or the task.
        const Value* at = deps_value != nullptr ? deps_value : &tasks.AsMap()[v].second;
        if (deps_value != nullptr && deps_value->is_list()) {
          for (const Value& item : deps_value->AsList()) {
            if (item.is_string() && item.AsString() == dep) {
              at = &item;
              break;
            }
          }
        }
        if (dep == task.id) {
          Error(*at, fmt::format("task '{}' depends on itself", task.id));
          deps_ok = false;
          continue;
        }
        auto it = index.find(dep);
        if (it == index.end()) {
          std::vector<std::string> ids(names);
          auto hint = ClosestMatch(dep, ids);
          Error(*at, fmt::format("task '{}' depends on '{}', which is not a task of this DAG{}",
                                 task.id, Printable(dep),
                                 hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
          deps_ok = false;
          continue;
        }
        edges.emplace_back(it->second, v);
      }
    }
    if (!deps_ok) return;
    std::vector<int> cycle;
    auto graph = TaskGraph::Build(static_cast<int>(dag->tasks.size()), edges, names, &cycle);
    if (!graph) {
      errors_->push_back(
          {tasks.AsMap()[cycle.empty() ? 0 : cycle.front()].second.key_loc, graph.error().message});
      return;
    }
    dag->graph = std::move(*graph);
  }

 private:
  Diagnostics* errors_;
};

void LoadOne(std::string_view text, const std::string& display, const std::filesystem::path& file,
             const LoadOptions& options, LoadResult* result) {
  Diagnostics& errors = result->errors;
  std::size_t errors_before = errors.size();
  std::optional<Value> root = ParseYaml(
      text, display, options, &errors,
      {.text = "DAG files must be UTF-8 text", .one_document = "a DAG file holds one DAG"});
  if (!root) return;
  std::string dag_id;
  auto dag = DagBuilder(&errors).Build(*root, options, &dag_id);
  if (!dag || errors.size() != errors_before) {
    if (!dag_id.empty()) result->broken.emplace(dag_id, display);
    return;
  }
  dag->file = file;
  for (auto& [name, source] : dag->secrets) {
    if (source.kind == SecretSource::Kind::kFile &&
        std::filesystem::path(source.ref).is_relative()) {
      source.ref = (file.parent_path() / source.ref).lexically_normal().string();
    }
  }
  dag->file_display = display;
  dag->content_hash = Sha256Hex(text);
  dag->source = std::string(text);
  result->dags.push_back(std::move(dag));
}

std::string DisplayPath(const std::filesystem::path& file, const std::filesystem::path& root) {
  std::error_code ec;
  auto relative = std::filesystem::relative(file, root, ec);
  if (!ec && !relative.empty() && !relative.string().starts_with("..")) return relative.string();
  return file.string();
}

// Adds one file's result to `into`; a DAG id defined in an earlier file is an error. `ids`
// maps the ids merged so far to their files.
void Merge(LoadResult* into, const LoadResult& one, std::map<std::string, std::string>* ids) {
  into->files += one.files;
  into->errors.insert(into->errors.end(), one.errors.begin(), one.errors.end());
  into->broken.insert(one.broken.begin(), one.broken.end());
  for (const auto& dag : one.dags) {
    auto [existing, inserted] = ids->emplace(dag->id, dag->file_display);
    if (!inserted) {
      into->errors.push_back({dag->loc, fmt::format("DAG id '{}' is already defined in {}", dag->id,
                                                    existing->second)});
      into->broken.emplace(dag->id, dag->file_display);
      continue;
    }
    into->dags.push_back(dag);
  }
}

// Reads and loads one DAG file.
LoadResult LoadFile(const std::filesystem::path& file, const std::filesystem::path& root,
                    const LoadOptions& options) {
  namespace fs = std::filesystem;
  LoadResult result;
  result.files = 1;
  std::error_code ec;
  fs::path absolute = fs::weakly_canonical(fs::absolute(file), ec);
  std::string display = DisplayPath(absolute, root);
  auto size = fs::file_size(file, ec);
  if (ec) {
    result.errors.push_back(
        {SourceLocation{display, 0, 0}, fmt::format("cannot read: {}", ec.message())});
    return result;
  }
  if (size > options.max_file_bytes) {
    result.errors.push_back(
        {SourceLocation{display, 0, 0},
         fmt::format("the file is {} bytes, over the limit of {}", size, options.max_file_bytes)});
    return result;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (!in) {
    result.errors.push_back({SourceLocation{display, 0, 0}, "cannot read the file"});
    return result;
  }
  LoadOne(buffer.str(), display, absolute, options, &result);
  return result;
}

bool IsDagFile(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

std::optional<Value> ParseYaml(std::string_view text, const std::string& display,
                               const LoadOptions& options, std::vector<Diagnostic>* errors,
                               const YamlFileRules& rules) {
  if (text.find('\0') != std::string_view::npos) {
    errors->push_back({LocationAt(display, text, text.find('\0')),
                       fmt::format("the file contains a NUL byte; {}", rules.text)});
    return std::nullopt;
  }
  if (auto bad = FindInvalidUtf8(text)) {
    errors->push_back(
        {LocationAt(display, text, *bad), fmt::format("invalid UTF-8; {}", rules.text)});
    return std::nullopt;
  }
  std::optional<Value> root;
  try {
    ViewStream in(text);
    YAML::Parser parser(in);
    YamlReader reader(display, options, text.size(), errors);
    root = reader.Read(parser);
    if (reader.failed()) return std::nullopt;
    if (!root) root.emplace();  // no document at all: an empty file
    // Only the first document would be read, so another one is an error, not silently ignored.
    while (auto next = reader.Read(parser)) {
      if (next->is_null()) continue;  // a trailing "---" with nothing after it
      errors->push_back(
          {next->loc, fmt::format("a second YAML document ('---'); {}", rules.one_document)});
      return std::nullopt;
    }
    if (reader.failed()) return std::nullopt;
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's own guard says only "bad file"
    errors->push_back(
        {SourceLocation{display, e.mark.line + 1, e.mark.column + 1},
         fmt::format("nesting deeper than {} levels; refusing to load it", options.max_depth)});
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    SourceLocation loc{display, e.mark.is_null() ? 0 : e.mark.line + 1,
                       e.mark.is_null() ? 0 : e.mark.column + 1};
    errors->push_back({loc, fmt::format("invalid YAML: {}", e.msg)});
    return std::nullopt;
  }
  if (root->loc.line == 0) root->loc = SourceLocation{display, 1, 1};
  return root;
}

std::string Diagnostic::ToString() const { return loc.ToString() + ": " + message; }

std::shared_ptr<const Dag> LoadResult::Find(std::string_view id) const {
  for (const auto& dag : dags) {
    if (dag->id == id) return dag;
  }
  return nullptr;
}

LoadResult LoadDagText(std::string_view text, const std::string& display_name,
                       const LoadOptions& options, const std::filesystem::path& file) {
  LoadResult result;
  result.files = 1;
  if (text.size() > options.max_file_bytes) {
    result.errors.push_back({SourceLocation{display_name, 0, 0},
                             fmt::format("the file is {} bytes, over the limit of {}", text.size(),
                                         options.max_file_bytes)});
    return result;
  }
  LoadOne(text, display_name, file.empty() ? std::filesystem::path(display_name) : file, options,
          &result);
  return result;
}

LoadResult LoadDags(const std::vector<std::filesystem::path>& paths,
                    const std::filesystem::path& root, const LoadOptions& options,
                    DagFileCache* cache) {
  namespace fs = std::filesystem;
  LoadResult result;
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (fs::recursive_directory_iterator
               it(path, fs::directory_options::skip_permission_denied, ec),
           end;
           !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && IsDagFile(it->path())) files.push_back(it->path());
      }
      if (ec) {
        result.errors.push_back({SourceLocation{path.string(), 0, 0},
                                 fmt::format("cannot read folder: {}", ec.message())});
      }
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      result.errors.push_back({SourceLocation{path.string(), 0, 0}, "no such file or folder"});
    }
  }
  // By their text: std::filesystem::path compares component by component, which was a third
  // of a scheduler's rescan of 1,000 unchanged files.
  auto by_text = [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); };
  std::sort(files.begin(), files.end(), by_text);
  std::error_code ec;
  const fs::path canonical_root = fs::weakly_canonical(fs::absolute(root), ec);
  std::map<std::string, std::string> ids;
  for (const fs::path& file : files) {
    if (cache == nullptr) {
      Merge(&result, LoadFile(file, canonical_root, options), &ids);
      continue;
    }
    // Reuse what an unchanged file (same size and modification time) parsed to last time.
    struct stat info {};
    const bool stat_failed = ::stat(file.c_str(), &info) != 0;
    const std::int64_t mtime_ns =
        static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
    const auto size = static_cast<std::uintmax_t>(info.st_size);
    DagFileCache::Entry& entry = cache->entries_[file.native()];
    if (stat_failed || entry.mtime_ns != mtime_ns || entry.size != size ||
        entry.result.files == 0) {
      entry = DagFileCache::Entry{mtime_ns, size, LoadFile(file, canonical_root, options)};
    }
    Merge(&result, entry.result, &ids);
  }
  if (cache != nullptr && cache->entries_.size() > files.size()) {  // some files are gone
    std::erase_if(cache->entries_, [&](const auto& e) {
      return !std::binary_search(files.begin(), files.end(), fs::path(e.first), by_text);
    });
  }
  std::sort(result.dags.begin(), result.dags.end(),
            [](const auto& a, const auto& b) { return a->id < b->id; });
  return result;
}

}  // namespace weir::dags
