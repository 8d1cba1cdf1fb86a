// Plain text tables for the terminal: columns padded to their widest cell.
#ifndef WEIR_CLI_TABLE_H_
#define WEIR_CLI_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace weir::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace weir::cli

#endif  // WEIR_CLI_TABLE_H_
