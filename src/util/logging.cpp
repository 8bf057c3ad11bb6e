#include "hfcpp/logging.h"

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <string>

namespace hfcpp::logging {
namespace {

Level level_from_env() {
  const char* value = std::getenv("HFCPP_VERBOSITY");
  if (value == nullptr) return Level::kWarning;
  const std::string v(value);
  if (v == "debug") return Level::kDebug;
  if (v == "info") return Level::kInfo;
  if (v == "error") return Level::kError;
  return Level::kWarning;
}

std::mutex& mutex() {
  static std::mutex m;
  return m;
}
Level& current_level() {
  static Level level = level_from_env();
  return level;
}
LogCapture*& active_capture() {
  static LogCapture* capture = nullptr;
  return capture;
}

const char* prefix(Level level) {
  switch (level) {
    case Level::kDebug: return "[hfcpp debug] ";
    case Level::kInfo: return "[hfcpp info] ";
    case Level::kWarning: return "[hfcpp warning] ";
    case Level::kError: return "[hfcpp error] ";
  }
  return "";
}

}  // namespace

Level verbosity() { return current_level(); }
void set_verbosity(Level level) { current_level() = level; }
bool enabled(Level level) {
  return level >= current_level() || (active_capture() && level >= active_capture()->level_);
}

void log(Level level, std::string_view message) {
  std::lock_guard lock(mutex());
  bool print = level >= current_level();
  if (LogCapture* capture = active_capture(); capture && level >= capture->level_) {
    capture->records_.push_back({level, std::string(message)});
    if (capture->quiet_) print = false;
  }
  if (print) std::cerr << prefix(level) << message << "\n";
}

void warning_once(std::string_view message) {
  static std::set<std::string, std::less<>> seen;
  {
    std::lock_guard lock(mutex());
    if (!seen.emplace(message).second) return;
  }
  warning(message);
}

LogCapture::LogCapture(Level level, bool quiet) : level_(level), quiet_(quiet) {
  std::lock_guard lock(mutex());
  previous_ = active_capture();
  active_capture() = this;
}

LogCapture::~LogCapture() {
  std::lock_guard lock(mutex());
  active_capture() = previous_;
}

std::vector<std::string> LogCapture::messages(Level at_least) const {
  std::vector<std::string> out;
  for (const auto& r : records_)
    if (r.level >= at_least) out.push_back(r.message);
  return out;
}

}  // namespace hfcpp::logging
