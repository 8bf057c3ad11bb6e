#include "hfcpp/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hfcpp {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

bool env_is_true(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return false;
  std::string text(value);
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text == "1" || text == "true" || text == "yes" || text == "on";
}

std::string format_amount(std::uint64_t amount, ProgressBar::Unit unit) {
  return unit == ProgressBar::Unit::kBytes ? format_bytes(amount) : std::to_string(amount);
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB", "PB"};
  if (bytes < 1000) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, value < 10 ? "%.2f %s" : (value < 100 ? "%.1f %s" : "%.0f %s"), value,
                kUnits[unit]);
  return buffer;
}

bool ProgressBar::enabled() {
  static const bool on = ::isatty(STDERR_FILENO) == 1 && !env_is_true("HF_HUB_DISABLE_PROGRESS_BARS");
  return on;
}

std::string ProgressBar::render(std::string_view label, std::uint64_t done, std::uint64_t total, Unit unit,
                                double elapsed_seconds, std::size_t width) {
  const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
  std::string counts = " " + format_amount(done, unit) + "/" + format_amount(total, unit);
  if (elapsed_seconds > 0 && done > 0) {
    const double rate = static_cast<double>(done) / elapsed_seconds;
    counts += unit == Unit::kBytes ? " " + format_bytes(static_cast<std::uint64_t>(rate)) + "/s"
                                   : " " + std::to_string(static_cast<std::uint64_t>(rate)) + "/s";
  }
  // label, space, [bar], space, percent, counts: the bar takes what is left, at least 10 columns.
  std::string head(label);
  const std::size_t fixed = 1 + 2 + 1 + std::strlen(percent) + counts.size();
  std::size_t bar_width = width > head.size() + fixed ? width - head.size() - fixed : 0;
  if (bar_width < 10) {
    const std::size_t keep = width > fixed + 10 ? width - fixed - 10 : 0;
    if (head.size() > keep) head = keep > 3 ? head.substr(0, keep - 3) + "..." : "";
    bar_width = 10;
  }
  const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(bar_width));
  std::string line = head + (head.empty() ? "" : " ") + "[" + std::string(filled, '#') +
                     std::string(bar_width - filled, '.') + "] " + percent + counts;
  if (line.size() > width) line.resize(width);
  return line;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, Unit unit)
    : label_(std::move(label)), total_(total), unit_(unit), visible_(enabled()),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  draw(true);
}

ProgressBar::~ProgressBar() {
  if (visible_ && !finished_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::advance(std::uint64_t amount) {
  done_ += amount;
  draw(false);
}

void ProgressBar::set_label(std::string label) {
  label_ = std::move(label);
  draw(false);
}

void ProgressBar::finish() {
  if (finished_) return;
  draw(true);
  finished_ = true;
  if (visible_) std::fputs("\n", stderr);
}

void ProgressBar::draw(bool force) {
  if (!visible_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = render(label_, done_, total_, unit_, elapsed, terminal_width() - 1);
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace hfcpp
