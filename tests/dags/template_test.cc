#include "dags/template.h"

#include <catch2/catch.hpp>

#include "common/strings.h"

namespace weir::dags {
namespace {

using Catch::Contains;

Template MustParse(std::string_view text) {
  auto t = Template::Parse(text);
  INFO(text);
  REQUIRE(t.has_value());
  return std::move(*t);
}

std::string Render(std::string_view text, const TemplateContext& context,
                   Quoting quoting = Quoting::kNone) {
  auto out = MustParse(text).Render(context, quoting);
  REQUIRE(out.has_value());
  return *out;
}

Timestamp At(std::string_view iso) {
  auto t = ParseTimestamp(iso);
  REQUIRE(t.has_value());
  return *t;
}

TemplateContext Context(std::map<std::string, std::string, std::less<>> variables) {
  return TemplateContext{std::move(variables)};
}

// --- Parse and Variables -------------------------------------------------------------------------

TEST_CASE("a template lists its variables in order of first use, once each", "[dags]") {
  Template t = MustParse("{{ ds }}/{{params.x}}/{{ ds }}/{{\tdag\t}}.csv");
  CHECK(t.Variables() == std::vector<std::string>{"ds", "params.x", "dag"});
  CHECK_FALSE(t.IsLiteral());
}

TEST_CASE("text without placeholders is a literal template", "[dags]") {
  for (const char* text : {"", "plain text", "{ ds }", "} }} {", "a { {b} }", "100% {x}"}) {
    INFO(text);
    Template t = MustParse(text);
    CHECK(t.IsLiteral());
    CHECK(t.Variables().empty());
    CHECK(Render(text, {}) == text);
  }
}

TEST_CASE("an unclosed placeholder is refused with its offset", "[dags]") {
  auto t = Template::Parse("data/{{ ds .csv");
  REQUIRE_FALSE(t);
  CHECK(t.error().code == ErrorCode::kInvalidArgument);
  CHECK(t.error().message == "unclosed '{{' at offset 5 in template");
  CHECK(Template::Parse("{{").error().message == "unclosed '{{' at offset 0 in template");
  CHECK(Template::Parse("{{ ds }} {{ ds }").error().message ==
        "unclosed '{{' at offset 9 in template");
}

TEST_CASE("expressions, filters and empty placeholders are refused, never evaluated", "[dags]") {
  for (const char* text :
       {"{{ ds + 1 }}", "{{ ds | upper }}", "{{ params['x'] }}", "{{ f(ds) }}", "{{ }}", "{{}}",
        "{{ ds ds }}", "{{ $(id) }}", "{{ `id` }}", "{{ ds\n}}", "{{ {{ ds }} }}"}) {
    INFO(Printable(text));
    auto t = Template::Parse(text);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(t.error().message, Contains("bad template placeholder"));
    CHECK_THAT(t.error().message, Contains("they do not evaluate expressions"));
  }
  CHECK(Template::Parse("x {{ ds + 1 }}").error().message ==
        "bad template placeholder '{{ ds + 1 }}' at offset 2: expected a variable name such as "
        "'{{ ds }}' (templates substitute names, they do not evaluate expressions)");
}

// --- Render --------------------------------------------------------------------------------------

TEST_CASE("Render substitutes variables as text", "[dags]") {
  TemplateContext context = Context({{"ds", "2026-02-01"}, {"params.label", "churn"}});
  CHECK(Render("data/{{ ds }}/{{ params.label }}.csv", context) == "data/2026-02-01/churn.csv");
  CHECK(Render("{{ds}}{{ds}}", context) == "2026-02-012026-02-01");
  CHECK(Render("{{ ds }}}", context) == "2026-02-01}");
}

TEST_CASE("Render never re-reads substituted text as a template", "[dags]") {
  TemplateContext context = Context({{"params.x", "{{ ds }}"}, {"ds", "2026-02-01"}});
  CHECK(Render("{{ params.x }}", context) == "{{ ds }}");
}

TEST_CASE("Render refuses a variable the context does not have", "[dags]") {
  auto out = MustParse("{{ ds }} {{ nope }}").Render(Context({{"ds", "x"}}));
  REQUIRE_FALSE(out);
  CHECK(out.error().message == "unknown template variable 'nope'");
}

TEST_CASE("shell-params quoting quotes only params values, as one shell word each", "[dags]") {
  TemplateContext context = Context({{"ds", "2026-02-01"},
                                     {"run_id", "d@2026-02-01T00:00:00Z"},
                                     {"params.name", "x'; rm -rf / #"},
                                     {"params.n", "5"}});
  std::string text = "echo {{ ds }} {{ run_id }} {{ params.name }} {{ params.n }}";
  CHECK(Render(text, context, Quoting::kShellParams) ==
        "echo 2026-02-01 d@2026-02-01T00:00:00Z 'x'\\''; rm -rf / #' '5'");
  CHECK(Render(text, context, Quoting::kNone) ==
        "echo 2026-02-01 d@2026-02-01T00:00:00Z x'; rm -rf / # 5");
}

// --- MakeTemplateContext -------------------------------------------------------------------------

RunVariables BerlinRun() {
  RunVariables run;
  run.dag_id = "daily";
  run.run_id = "daily@2026-03-29T23:30:00Z";
  run.timezone = "Europe/Berlin";
  run.interval_start = At("2026-03-29T23:30:00Z");
  run.interval_end = At("2026-03-30T23:30:00Z");
  run.logical_date = At("2026-03-29T23:30:00Z");
  run.params = Value::MakeMap({{"min_events", Value::Int(5)},
                               {"ratio", Value::Double(0.25)},
                               {"full", Value::Bool(true)},
                               {"label", Value::String("churn")},
                               {"nothing", Value()}});
  return run;
}

TEST_CASE("ds is the interval start's date in the DAG's zone, not in UTC", "[dags]") {
  // 2026-03-29T23:30Z is 01:30 on 2026-03-30 in Berlin (CEST, the night DST began).
  auto context = MakeTemplateContext(BerlinRun(), "extract", 2);
  REQUIRE(context.has_value());
  const auto& v = context->variables;
  CHECK(v.at("ds") == "2026-03-30");
  CHECK(v.at("ds_nodash") == "20260330");

  RunVariables utc = BerlinRun();
  utc.timezone = "UTC";
  CHECK(MakeTemplateContext(utc, "extract", 1)->variables.at("ds") == "2026-03-29");
}

TEST_CASE("the template context holds every built-in variable and every param", "[dags]") {
  auto context = MakeTemplateContext(BerlinRun(), "extract", 2);
  REQUIRE(context.has_value());
  const auto& v = context->variables;
  CHECK(v.at("data_interval_start") == "2026-03-29T23:30:00Z");
  CHECK(v.at("data_interval_end") == "2026-03-30T23:30:00Z");
  CHECK(v.at("logical_date") == "2026-03-29T23:30:00Z");
  CHECK(v.at("run_id") == "daily@2026-03-29T23:30:00Z");
  CHECK(v.at("dag") == "daily");
  CHECK(v.at("task") == "extract");
  CHECK(v.at("try_number") == "2");
  CHECK(v.at("params.min_events") == "5");
  CHECK(v.at("params.ratio") == "0.25");
  CHECK(v.at("params.full") == "true");
  CHECK(v.at("params.label") == "churn");
  CHECK(v.at("params.nothing") == "");
  for (const std::string& name : BuiltinVariables()) {
    INFO(name);
    CHECK(v.count(name) == 1);
  }
  CHECK(v.size() == BuiltinVariables().size() + 5);
}

TEST_CASE("MakeTemplateContext refuses an unknown zone", "[dags]") {
  RunVariables run = BerlinRun();
  run.timezone = "Europe/Atlantis";
  auto context = MakeTemplateContext(run, "extract", 1);
  REQUIRE_FALSE(context);
  CHECK_THAT(context.error().message, Contains("unknown time zone 'Europe/Atlantis'"));
}

TEST_CASE("a rendered template uses the context of the run", "[dags]") {
  auto context = MakeTemplateContext(BerlinRun(), "extract", 1);
  REQUIRE(context.has_value());
  CHECK(Render("out/{{ dag }}/{{ task }}/{{ ds_nodash }}-{{ try_number }}.csv", *context) ==
        "out/daily/extract/20260330-1.csv");
}

// --- EnvironmentName -----------------------------------------------------------------------------

TEST_CASE("EnvironmentName upper-cases variables under WEIR_ and params under WEIR_PARAM_",
          "[dags]") {
  CHECK(EnvironmentName("ds") == "WEIR_DS");
  CHECK(EnvironmentName("ds_nodash") == "WEIR_DS_NODASH");
  CHECK(EnvironmentName("data_interval_start") == "WEIR_DATA_INTERVAL_START");
  CHECK(EnvironmentName("try_number") == "WEIR_TRY_NUMBER");
  CHECK(EnvironmentName("params.min_events") == "WEIR_PARAM_MIN_EVENTS");
  CHECK(EnvironmentName("params.camelCase2") == "WEIR_PARAM_CAMELCASE2");
}

}  // namespace
}  // namespace weir::dags
