// Formatting shared by the commands: dtype names, shapes, aligned text tables.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hfcpp/dtype.h"

namespace hfcpp::cli {

// The torch name of a stored dtype ("float32", "bfloat16", "float8_e4m3fn", "uint16").
std::string dtype_name(DType dtype);
// "[99, 32]"; "[]" for a scalar.
std::string shape_text(const std::vector<std::int64_t>& shape);

// Rows of cells printed with every column padded to its widest cell; columns listed in
// `right_aligned` (numbers) are padded on the left.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, std::vector<bool> right_aligned = {});
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_aligned_;
};

}  // namespace hfcpp::cli
