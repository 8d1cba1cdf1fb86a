// Value: the tree a DAG file becomes before it is typed. Maps keep the order they were written
// in and every node remembers where it was written, so later checks can report file:line:col.
// Kind-specific task config and params stay Values: the loader checks them against the kind's
// schema, templating renders every string in them, and the child process receives them as JSON.
#ifndef WEIR_DAGS_VALUE_H_
#define WEIR_DAGS_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"

namespace weir::dags {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based, in bytes
  // "file:line:col", or just "file" when the position is unknown.
  std::string ToString() const;
};

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  static Value Bool(bool b) { return Value(b); }
  static Value Int(std::int64_t i) { return Value(i); }
  static Value Double(double d) { return Value(d); }
  static Value String(std::string s) { return Value(std::move(s)); }
  static Value MakeList(List items) { return Value(std::move(items)); }
  static Value MakeMap(Map entries) { return Value(std::move(entries)); }

  Type type() const { return static_cast<Type>(data_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_string() const { return type() == Type::kString; }
  bool is_map() const { return type() == Type::kMap; }
  bool is_list() const { return type() == Type::kList; }
  bool is_scalar() const { return !is_map() && !is_list(); }

  // Accessors; calling the wrong one is a bug in weir (asserts).
  bool AsBool() const { return std::get<bool>(data_); }
  std::int64_t AsInt() const { return std::get<std::int64_t>(data_); }
  double AsDouble() const { return std::get<double>(data_); }
  const std::string& AsString() const { return std::get<std::string>(data_); }
  const List& AsList() const { return std::get<List>(data_); }
  List& AsList() { return std::get<List>(data_); }
  const Map& AsMap() const { return std::get<Map>(data_); }
  Map& AsMap() { return std::get<Map>(data_); }

  // The entry named `key` of a map, or nullptr (also for non-maps).
  const Value* Find(std::string_view key) const;

  // A scalar as text: "5", "true", "0.25", the string itself, "" for null. Lists and maps as JSON.
  std::string ToText() const;
  // JSON text of the whole tree (locations are not kept).
  std::string ToJson() const;
  // Parses JSON produced by ToJson (or any JSON); numbers without a fraction become kInt.
  [[nodiscard]] static Result<Value> FromJson(std::string_view json);

  // "a string", "a list", ... for error messages.
  static const char* TypeName(Type t);

  SourceLocation loc;
  SourceLocation key_loc;  // for an entry of a map, where its key was written

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

 private:
  template <typename T>
  explicit Value(T v) : data_(std::move(v)) {}
  std::variant<std::monostate, bool, std::int64_t, double, std::string, List, Map> data_;
};

}  // namespace weir::dags

#endif  // WEIR_DAGS_VALUE_H_
