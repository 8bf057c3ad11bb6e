// Reads a safetensors file through the installed hfcpp and prints its tensor count.
#include <hfcpp/io/safetensors.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const auto file = hfcpp::SafetensorsFile::open(argv[1]);
  std::cout << "tensors: " << file.header().tensors.size() << "\n";
  return file.header().tensors.empty() ? 1 : 0;
}
