#include "dags/dataset.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace weir::dags {

bool IsTableName(std::string_view name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

Result<DatasetUri> ParseDatasetUri(std::string_view text) {
  auto bad = [&](std::string_view why) -> Result<DatasetUri> {
    return Fail(ErrorCode::kInvalidArgument, fmt::format("dataset '{}': {}", Printable(text), why));
  };
  auto check_table = [&](std::string_view table) -> Result<void> {
    if (IsTableName(table)) return {};
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("dataset '{}': table name '{}' must be letters, digits and '_', not "
                            "starting with a digit",
                            Printable(text), Printable(table)));
  };
  DatasetUri uri;
  if (text.starts_with("warehouse://")) {
    uri.scheme = DatasetUri::Scheme::kWarehouse;
    uri.table = text.substr(12);
    if (auto ok = check_table(uri.table); !ok) return std::unexpected(ok.error());
    return uri;
  }
  if (text.starts_with("sqlite://")) {
    std::string_view rest = text.substr(9);
    std::size_t hash = rest.rfind('#');
    if (hash == std::string_view::npos) return bad("use sqlite://PATH#TABLE");
    uri.scheme = DatasetUri::Scheme::kSqlite;
    uri.path = rest.substr(0, hash);
    uri.table = rest.substr(hash + 1);
    if (uri.path.empty()) return bad("the SQLite file's path is empty");
    if (auto ok = check_table(uri.table); !ok) return std::unexpected(ok.error());
    return uri;
  }
  if (text.starts_with("file:")) {
    uri.scheme = DatasetUri::Scheme::kFile;
    uri.path = text.substr(5);
    if (uri.path.empty()) return bad("the path is empty");
    if (uri.path.starts_with("//")) return bad("write file:PATH (a path, not a URL with a host)");
    return uri;
  }
  return bad("use file:PATH, warehouse://TABLE or sqlite://PATH#TABLE");
}

}  // namespace weir::dags
