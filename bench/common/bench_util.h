// Helpers for benchmarks that follow the protocol of DESIGN.md: every timed case runs in a fresh
// process, files are re-read right before a timed load, memory is warmed before a run, results are
// medians over several runs, and the thread configuration is printed with the table.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hfcpp/io/mapped_file.h"

namespace hfcpp::bench {

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Peak resident set of this process in MiB.
inline double peak_rss_mib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

inline double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return 0;
}

// Touches and frees `bytes` of memory so the host hands pages back quickly during the timed run.
inline void warm_memory(std::size_t bytes) {
  auto* p = static_cast<char*>(std::malloc(bytes));
  if (p == nullptr) return;
  for (std::size_t i = 0; i < bytes; i += 4096) p[i] = 1;
  std::free(p);
}

// Reads a file (or every file of a folder) to /dev/null; returns the seconds it took.
inline double cat_seconds(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
  } else {
    files.push_back(path);
  }
  static std::vector<char> buffer(1 << 20);
  const double start = now_seconds();
  for (const auto& file : files) {
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) continue;
    while (std::fread(buffer.data(), 1, buffer.size(), f) == buffer.size()) {
    }
    std::fclose(f);
  }
  return now_seconds() - start;
}

// Drops the files from the page cache, then reads them back: "hfcpp" through hfcpp's own mapping
// (2 MiB folios where the kernel has them, what a first from_pretrained leaves behind), "read"
// with read() as cat does (the kernel's read-ahead folios). The layout of the cache, not only the
// bytes in it, decides how many page faults a mapped load takes.
inline void refill_page_cache(const std::vector<std::filesystem::path>& files, const std::string& how) {
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  for (const auto& f : files) {
    if (how == "read") {
      cat_seconds(f);
      continue;
    }
    const auto mapped = MappedFile::open(f);
    volatile std::uint8_t sink = 0;
    for (std::size_t i = 0; i < mapped->size(); i += 4096) sink = sink + mapped->data()[i];
  }
}

// Runs `argv` as a child process and returns its stdout.
inline std::string run_child(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) command += "'" + a + "' ";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

inline std::string thread_settings() {
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  return std::string("OMP_NUM_THREADS=") + (omp ? omp : "unset") + ", OMP_WAIT_POLICY=" + (wait ? wait : "unset");
}

}  // namespace hfcpp::bench
