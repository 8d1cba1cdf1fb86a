#include "fuzz/targets.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/strings.h"
#include "dags/dags.h"
#include "dags/schedule.h"
#include "dags/template.h"
#include "tasks/csv.h"
#include "webui/webui.h"

namespace weir::fuzz {
namespace {

// Every error weir shows is one line.
std::string OneLine(std::string_view where, std::string_view message) {
  if (message.empty()) return fmt::format("{}: an empty error message", where);
  if (message.find('\n') != std::string_view::npos) {
    return fmt::format("{}: an error of more than one line: {}", where, Printable(message, 200));
  }
  return "";
}

std::string DagLoader(std::string_view input) {
  const dags::LoadResult loaded = dags::LoadDagText(input, "fuzz.yaml");
  for (const auto& error : loaded.errors) {
    const std::string text = error.ToString();
    if (!text.starts_with("fuzz.yaml")) return "an error that does not name the file: " + text;
    if (auto broken = OneLine("dag_loader", error.message); !broken.empty()) return broken;
  }
  if (!loaded.errors.empty() && !loaded.dags.empty()) return "a DAG loaded despite its errors";
  for (const auto& dag : loaded.dags) {
    // What was loaded loads again, the same, from the text it keeps.
    const dags::LoadResult again = dags::LoadDagText(dag->source, "fuzz.yaml");
    if (again.dags.size() != 1 || again.dags[0]->id != dag->id ||
        again.dags[0]->content_hash != dag->content_hash) {
      return "a loaded DAG does not load again from its own text";
    }
  }
  return "";
}

std::string Cron(std::string_view input) {
  // The input's first 8 bytes pick the instant; the rest is the expression.
  std::int64_t seconds = 0;
  const std::size_t head = std::min<std::size_t>(8, input.size());
  for (std::size_t i = 0; i < head; ++i)
    seconds = (seconds << 8) | static_cast<unsigned char>(input[i]);
  // Within 1970..2100, where schedules are asked about.
  const Timestamp at = Timestamp(std::chrono::seconds(
      static_cast<std::int64_t>(static_cast<std::uint64_t>(seconds) % 4'102'444'800ULL)));
  const std::string_view text = input.substr(head);
  auto schedule = dags::Schedule::Parse(text);
  if (!schedule) return OneLine("cron", schedule.error().message);
  static constexpr std::string_view kZones[] = {"UTC", "Europe/Berlin", "America/New_York",
                                                "Australia/Lord_Howe", "Asia/Kolkata"};
  const std::string_view zone = kZones[static_cast<std::size_t>(seconds & 0x7fff) % 5];
  const auto next = schedule->NextTick(at, zone);
  if (next && *next <= at) return fmt::format("NextTick({}) is not after it", FormatIso(at));
  const auto previous = schedule->PreviousTick(at, zone);
  if (previous && *previous >= at)
    return fmt::format("PreviousTick({}) is not before it", FormatIso(at));
  if (next) {
    // No tick lies strictly between `at` and the next one.
    const auto back = schedule->PreviousTick(*next, zone);
    if (back && *back > at) {
      return fmt::format("'{}' in {}: a tick {} between {} and NextTick {}", Printable(text), zone,
                         FormatIso(*back), FormatIso(at), FormatIso(*next));
    }
  }
  return "";
}

std::string TemplateTarget(std::string_view input) {
  auto parsed = dags::Template::Parse(input);
  if (!parsed) return OneLine("template", parsed.error().message);
  dags::TemplateContext context;
  for (const std::string& name : parsed->Variables()) context.variables[name] = "v'al\"ue";
  for (auto quoting : {dags::Quoting::kNone, dags::Quoting::kShellParams}) {
    auto rendered = parsed->Render(context, quoting);
    if (!rendered)
      return "a template whose every variable is set does not render: " + rendered.error().message;
    if (parsed->IsLiteral() && *rendered != input && input.find("{{") == std::string_view::npos) {
      return "a literal template renders to other text";
    }
  }
  if (!parsed->Variables().empty()) {
    auto missing = parsed->Render({});
    if (missing) return "a template renders without its variables";
    if (auto broken = OneLine("template", missing.error().message); !broken.empty()) return broken;
  }
  return "";
}

std::string Csv(std::string_view input) {
  // The first byte picks the delimiter and quote, and tiny blocks put records across reads.
  tasks::CsvOptions options;
  if (!input.empty()) {
    static constexpr char kDelimiters[] = {',', ';', '\t', '|', '"', '\n'};
    options.delimiter = kDelimiters[static_cast<unsigned char>(input[0]) % 6];
    options.quote = (input[0] & 0x40) != 0 ? '\'' : '"';
    options.block_bytes = 1 + static_cast<unsigned char>(input[0]) % 7;
    options.max_field_bytes = 64;
    input.remove_prefix(1);
  }
  auto reader = tasks::CsvReader::FromString(std::string(input), "fuzz.csv", options);
  tasks::CsvRecord record;
  std::int64_t last_line = 0;
  for (std::size_t records = 0;; ++records) {
    auto more = reader.Next(&record);
    if (!more) {
      if (!more.error().message.starts_with("fuzz.csv"))
        return "a CSV error that does not name the file";
      return OneLine("csv", more.error().message);
    }
    if (!*more) return "";
    if (records > input.size()) return "more records than bytes";
    if (record.line <= last_line) return "a record that does not start after the one before";
    last_line = record.line;
    if (record.fields.size() != record.quoted.size()) return "fields and quoted flags disagree";
    if (record.raw.size() > input.size()) return "a record longer than the input";
    if (!record.problem.empty()) {
      if (auto broken = OneLine("csv", record.problem); !broken.empty()) return broken;
    }
  }
}

// One API and its state database for the whole fuzzing session, in a temporary home with one
// DAG; the session's changes accumulate there as a user's would.
class ApiHarness {
 public:
  static constexpr std::string_view kToken = "fuzz-token-0123456789";

  ApiHarness() {
    char pattern[] = "/tmp/weir-fuzz-api.XXXXXX";
    home_ = ::mkdtemp(pattern);
    std::filesystem::create_directories(home_ / "dags");
    std::ofstream(home_ / "dags" / "demo.yaml")
        << "dag: demo\nschedule: \"@daily\"\nstart_date: 2026-01-01\nparams:\n  n: 3\n"
           "tasks:\n  a: { kind: shell, script: 'echo {{ params.n }}' }\n"
           "  b: { kind: shell, script: 'true', deps: [a] }\n";
    api_ =
        std::make_unique<webui::Api>(webui::ApiOptions{.state_path = home_ / "weir.db",
                                                       .dags_dir = home_ / "dags",
                                                       .tokens = {{"fuzz", std::string(kToken)}}},
                                     SystemClock::Instance());
    // A run to clear, mark and read the logs of.
    Call("POST", "/api/v1/dags/demo/runs", "", R"({"date": "2026-01-02"})");
  }
  ~ApiHarness() {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }

  webui::HttpResponse Call(std::string method, std::string path, std::string query,
                           std::string body) {
    webui::HttpRequest request{.method = std::move(method),
                               .path = std::move(path),
                               .query = std::move(query),
                               .headers = {{"authorization", "Bearer " + std::string(kToken)},
                                           {"content-type", "application/json"},
                                           {"host", "127.0.0.1:8080"}},
                               .body = std::move(body),
                               .peer = "127.0.0.1",
                               .from_loopback = true};
    return api_->Handle(request);
  }

 private:
  std::filesystem::path home_;
  std::unique_ptr<webui::Api> api_;
};

std::string Api(std::string_view input) {
  static ApiHarness harness;
  // The first byte picks the endpoint; up to the first newline is the query string, or the
  // path's variable part; the rest is the body.
  struct Endpoint {
    const char* method;
    const char* path;  // "{}" is replaced by the input's first line
  };
  static constexpr Endpoint kEndpoints[] = {
      {"GET", "/api/v1/dags/demo/runs"},
      {"GET", "/api/v1/runs"},
      {"GET", "/api/v1/runs/demo@2026-01-02T00:00:00Z/tasks/a/logs"},
      {"GET", "/api/v1/lineage"},
      {"GET", "/api/v1/audit"},
      {"GET", "/api/v1/dataset"},
      {"GET", "/api/v1/{}"},
      {"POST", "/api/v1/dags/demo/runs"},
      {"POST", "/api/v1/dags/demo/backfills"},
      {"POST", "/api/v1/runs/demo@2026-01-02T00:00:00Z/clear"},
      {"POST", "/api/v1/runs/demo@2026-01-02T00:00:00Z/mark"},
      {"POST", "/api/v1/runs/demo@2026-01-02T00:00:00Z/tasks/a/clear"},
      {"POST", "/api/v1/runs/demo@2026-01-02T00:00:00Z/tasks/b/mark"},
      {"POST", "/api/v1/dags/demo/pause"},
      {"POST", "/api/v1/session"},
      {"POST", "/api/v1/{}"},
  };
  if (input.empty()) return "";
  const Endpoint& endpoint = kEndpoints[static_cast<unsigned char>(input[0]) % 16];
  input.remove_prefix(1);
  const std::size_t newline = input.find('\n');
  std::string line(input.substr(0, newline));
  std::string body(newline == std::string_view::npos ? "" : input.substr(newline + 1));
  std::string path = endpoint.path;
  std::string query;
  if (const auto hole = path.find("{}"); hole != std::string::npos) {
    path.replace(hole, 2, line);
  } else {
    query = std::move(line);
  }
  const webui::HttpResponse answer = harness.Call(endpoint.method, path, query, std::move(body));
  if (answer.status < 200 || answer.status > 599) return fmt::format("status {}", answer.status);
  if (answer.status >= 500 && answer.status != 503) {
    return fmt::format("a {} for {} {}: {}", answer.status, endpoint.method, Printable(path, 200),
                       Printable(answer.body, 300));
  }
  if (answer.content_type.starts_with("application/json")) {
    auto parsed = nlohmann::json::parse(answer.body, nullptr, false);
    if (parsed.is_discarded()) return "an answer that is not JSON";
    if (answer.status >= 400) {
      if (!parsed.contains("error") || !parsed["error"].is_string())
        return "an error without 'error'";
      if (auto broken = OneLine("api", parsed["error"].get<std::string>()); !broken.empty()) {
        return broken;
      }
    }
  }
  return "";
}

}  // namespace

const std::vector<Target>& Targets() {
  static const std::vector<Target> targets = {
      {"dag_loader", "DAG files: YAML, keys, kinds, templates and graphs", DagLoader},
      {"cron", "schedules and their ticks in five time zones", Cron},
      {"template", "{{ variable }} templates, rendered with shell quoting too", TemplateTarget},
      {"csv", "delimited text, any delimiter and quote, records across reads", Csv},
      {"api", "the JSON API's bodies, query strings and ids, with a valid token", Api},
  };
  return targets;
}

const Target* FindTarget(std::string_view name) {
  for (const Target& target : Targets()) {
    if (target.name == name) return &target;
  }
  return nullptr;
}

}  // namespace weir::fuzz
