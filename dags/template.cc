#include "dags/template.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/strings.h"

namespace weir::dags {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

}  // namespace

const std::vector<std::string>& BuiltinVariables() {
  static const std::vector<std::string> kNames = {
      "ds",  "ds_nodash", "data_interval_start", "data_interval_end", "logical_date", "run_id",
      "dag", "task",      "try_number"};
  return kNames;
}

Result<Template> Template::Parse(std::string_view text) {
  Template out;
  std::size_t pos = 0;
  std::string literal;
  while (pos < text.size()) {
    std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal += text.substr(pos);
      break;
    }
    literal += text.substr(pos, open - pos);
    std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unclosed '{{{{' at offset {} in template", open));
    }
    std::string_view inside = text.substr(open + 2, close - open - 2);
    std::size_t first = inside.find_first_not_of(" \t");
    std::size_t last = inside.find_last_not_of(" \t");
    std::string_view name = first == std::string_view::npos
                                ? std::string_view()
                                : inside.substr(first, last - first + 1);
    bool valid = !name.empty();
    for (char c : name) valid = valid && IsNameChar(c);
    if (!valid) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("bad template placeholder '{{{{{}}}}}' at offset {}: expected a "
                              "variable name such as '{{{{ ds }}}}' (templates substitute names, "
                              "they do not evaluate expressions)",
                              Printable(inside), open));
    }
    if (!literal.empty()) out.segments_.push_back({false, std::move(literal)});
    literal.clear();
    out.segments_.push_back({true, std::string(name)});
    pos = close + 2;
  }
  if (!literal.empty()) out.segments_.push_back({false, std::move(literal)});
  return out;
}

std::vector<std::string> Template::Variables() const {
  std::vector<std::string> names;
  for (const Segment& s : segments_) {
    if (s.is_variable && std::find(names.begin(), names.end(), s.text) == names.end()) {
      names.push_back(s.text);
    }
  }
  return names;
}

bool Template::IsLiteral() const {
  for (const Segment& s : segments_) {
    if (s.is_variable) return false;
  }
  return true;
}

Result<std::string> Template::Render(const TemplateContext& context, Quoting quoting) const {
  std::string out;
  for (const Segment& s : segments_) {
    if (!s.is_variable) {
      out += s.text;
      continue;
    }
    auto it = context.variables.find(s.text);
    if (it == context.variables.end()) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("unknown template variable '{}'", s.text));
    }
    if (quoting == Quoting::kShellParams && s.text.starts_with("params.")) {
      out += ShellQuote(it->second);
    } else {
      out += it->second;
    }
  }
  return out;
}

Result<TemplateContext> MakeTemplateContext(const RunVariables& run, std::string_view task_id,
                                            int try_number) {
  auto local = LocalDate(run.interval_start, run.timezone);
  if (!local) return std::unexpected(local.error());
  std::string ds = FormatDate(*local);
  std::string ds_nodash;
  for (char c : ds) {
    if (c != '-') ds_nodash += c;
  }
  TemplateContext context;
  auto& v = context.variables;
  v["ds"] = ds;
  v["ds_nodash"] = ds_nodash;
  v["data_interval_start"] = FormatIso(run.interval_start);
  v["data_interval_end"] = FormatIso(run.interval_end);
  v["logical_date"] = FormatIso(run.logical_date);
  v["run_id"] = run.run_id;
  v["dag"] = run.dag_id;
  v["task"] = std::string(task_id);
  v["try_number"] = std::to_string(try_number);
  if (run.params.is_map()) {
    for (const auto& [name, value] : run.params.AsMap()) v["params." + name] = value.ToText();
  }
  return context;
}

std::string EnvironmentName(std::string_view variable) {
  std::string out = "WEIR_";
  std::string_view name = variable;
  if (name.starts_with("params.")) {
    out += "PARAM_";
    name.remove_prefix(7);
  }
  for (char c : name) {
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : (c == '.' ? '_' : c);
  }
  return out;
}

}  // namespace weir::dags
