// Templating: "{{ name }}" placeholders in task config strings, rendered per run. It substitutes
// text only and never executes anything. Unknown names are errors when the DAG is validated,
// not empty strings at run time.
#ifndef WEIR_DAGS_TEMPLATE_H_
#define WEIR_DAGS_TEMPLATE_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "dags/value.h"

namespace weir::dags {

// The variables every template may use, besides "params.NAME".
const std::vector<std::string>& BuiltinVariables();

// Values of the variables for one attempt of one task.
struct TemplateContext {
  std::map<std::string, std::string, std::less<>> variables;  // "ds" -> "2026-02-01", "params.x"
};

// How a rendered value is inserted.
enum class Quoting {
  kNone,         // as is
  kShellParams,  // params.* values as one single-quoted shell word (for `script:`)
};

class Template {
 public:
  // Errors give the byte offset of the problem: "unclosed '{{' at offset 4".
  [[nodiscard]] static Result<Template> Parse(std::string_view text);

  // Every variable name used, in order of first use.
  std::vector<std::string> Variables() const;
  bool IsLiteral() const;
  [[nodiscard]] Result<std::string> Render(const TemplateContext& context,
                                           Quoting quoting = Quoting::kNone) const;

 private:
  struct Segment {
    bool is_variable = false;
    std::string text;  // literal text, or the variable name
  };
  std::vector<Segment> segments_;
};

// Builds the context for `task` of a run of `dag_id` over [start, end).
// `ds` and `ds_nodash` are the interval start's date in `timezone`.
struct RunVariables {
  std::string dag_id;
  std::string run_id;
  std::string timezone = "UTC";
  Timestamp interval_start;
  Timestamp interval_end;
  Timestamp logical_date;
  Value params;  // map name -> value, after trigger overrides
};
[[nodiscard]] Result<TemplateContext> MakeTemplateContext(const RunVariables& run,
                                                          std::string_view task_id, int try_number);

// The environment variable a template variable is exported as: "ds" -> "WEIR_DS",
// "params.min_events" -> "WEIR_PARAM_MIN_EVENTS".
std::string EnvironmentName(std::string_view variable);

}  // namespace weir::dags

#endif  // WEIR_DAGS_TEMPLATE_H_
