#include "dags/value.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace weir::dags {
namespace {

// Ordered, so that a map written a,b,c comes back a,b,c.
using Json = nlohmann::ordered_json;

Json ToNlohmann(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return nullptr;
    case Value::Type::kBool:
      return v.AsBool();
    case Value::Type::kInt:
      return v.AsInt();
    case Value::Type::kDouble:
      return v.AsDouble();
    case Value::Type::kString:
      return v.AsString();
    case Value::Type::kList: {
      Json out = Json::array();
      for (const Value& item : v.AsList()) out.push_back(ToNlohmann(item));
      return out;
    }
    case Value::Type::kMap: {
      Json out = Json::object();
      for (const auto& [key, item] : v.AsMap()) out[key] = ToNlohmann(item);
      return out;
    }
  }
  return nullptr;
}

Value FromNlohmann(const Json& j) {
  switch (j.type()) {
    case Json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case Json::value_t::number_integer:
      return Value::Int(j.get<std::int64_t>());
    case Json::value_t::number_unsigned: {
      auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value::Double(static_cast<double>(u));
      return Value::Int(static_cast<std::int64_t>(u));
    }
    case Json::value_t::number_float:
      return Value::Double(j.get<double>());
    case Json::value_t::string:
      return Value::String(j.get<std::string>());
    case Json::value_t::array: {
      Value::List items;
      for (const auto& item : j) items.push_back(FromNlohmann(item));
      return Value::MakeList(std::move(items));
    }
    case Json::value_t::object: {
      Value::Map entries;
      for (const auto& [key, item] : j.items()) entries.emplace_back(key, FromNlohmann(item));
      return Value::MakeMap(std::move(entries));
    }
    default:
      return Value();
  }
}

}  // namespace

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

const Value* Value::Find(std::string_view key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : AsMap()) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string Value::ToText() const {
  switch (type()) {
    case Type::kNull:
      return "";
    case Type::kBool:
      return AsBool() ? "true" : "false";
    case Type::kInt:
      return std::to_string(AsInt());
    case Type::kDouble:
      return fmt::format("{}", AsDouble());
    case Type::kString:
      return AsString();
    default:
      return ToJson();
  }
}

std::string Value::ToJson() const { return ToNlohmann(*this).dump(); }

Result<Value> Value::FromJson(std::string_view json) {
  Json parsed = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "not valid JSON");
  return FromNlohmann(parsed);
}

const char* Value::TypeName(Type t) {
  switch (t) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "a boolean";
    case Type::kInt:
      return "an integer";
    case Type::kDouble:
      return "a number";
    case Type::kString:
      return "a string";
    case Type::kList:
      return "a list";
    case Type::kMap:
      return "a map";
  }
  return "?";
}

}  // namespace weir::dags
