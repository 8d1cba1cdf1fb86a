#include "tasks/shell.h"

#include <fmt/format.h>

namespace weir::tasks {

Result<std::string> RenderText(const dags::Value& value, const dags::TemplateContext& context,
                               dags::Quoting quoting, std::string_view key) {
  auto parsed = dags::Template::Parse(value.ToText());
  if (!parsed) {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("'{}': {}", key, parsed.error().message));
  }
  auto rendered = parsed->Render(context, quoting);
  if (!rendered) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}': {}", key, rendered.error().message));
  }
  return rendered;
}

Result<void> BuildShellCommand(const dags::Dag& dag, const dags::TaskSpec& task,
                               const dags::TemplateContext& context, Command* command) {
  if (const dags::Value* argv = task.config.Find("command")) {
    for (const dags::Value& arg : argv->AsList()) {
      auto text = RenderText(arg, context, dags::Quoting::kNone, "command");
      if (!text) return std::unexpected(text.error());
      command->argv.push_back(std::move(*text));
    }
  } else if (const dags::Value* script = task.config.Find("script")) {
    auto text = RenderText(*script, context, dags::Quoting::kShellParams, "script");
    if (!text) return std::unexpected(text.error());
    command->argv = {"/bin/sh", "-c", std::move(*text)};
  } else {
    return Fail(ErrorCode::kInvalidArgument, "a shell task needs 'command' or 'script'");
  }

  std::filesystem::path cwd = dag.file.parent_path();
  if (const dags::Value* dir = task.config.Find("cwd")) {
    auto text = RenderText(*dir, context, dags::Quoting::kNone, "cwd");
    if (!text) return std::unexpected(text.error());
    cwd /= *text;  // an absolute cwd replaces the DAG folder
  }
  command->cwd = cwd.lexically_normal().string();
  std::error_code ec;
  if (!std::filesystem::is_directory(command->cwd, ec)) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("working directory {} does not exist", command->cwd));
  }

  if (const dags::Value* env = task.config.Find("env")) {
    for (const auto& [name, value] : env->AsMap()) {
      auto text = RenderText(value, context, dags::Quoting::kNone, "env." + name);
      if (!text) return std::unexpected(text.error());
      command->env.push_back(name + "=" + *text);
    }
  }
  return {};
}

}  // namespace weir::tasks
