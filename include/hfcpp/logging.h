// One small logger for the library. Verbosity comes from HFCPP_VERBOSITY (error | warning | info |
// debug; default warning), messages go to stderr prefixed with their level. Tests and tools can
// capture messages instead (see LogCapture).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace hfcpp::logging {

enum class Level { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40 };

Level verbosity();
void set_verbosity(Level level);
bool enabled(Level level);

void log(Level level, std::string_view message);
inline void debug(std::string_view m) { log(Level::kDebug, m); }
inline void info(std::string_view m) { log(Level::kInfo, m); }
inline void warning(std::string_view m) { log(Level::kWarning, m); }
inline void error(std::string_view m) { log(Level::kError, m); }
// Logs a warning once per process for each distinct message (Transformers' warning_once).
void warning_once(std::string_view message);

struct Record {
  Level level;
  std::string message;
};

// While alive, records every message at or above `level` (whatever the verbosity) instead of
// printing messages below the verbosity; messages at or above the verbosity are still printed
// unless `quiet`.
class LogCapture {
 public:
  explicit LogCapture(Level level = Level::kDebug, bool quiet = true);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  const std::vector<Record>& records() const { return records_; }
  std::vector<std::string> messages(Level at_least) const;

 private:
  friend void log(Level, std::string_view);
  friend bool enabled(Level);
  Level level_;
  bool quiet_;
  std::vector<Record> records_;
  LogCapture* previous_;
};

}  // namespace hfcpp::logging
