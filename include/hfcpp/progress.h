// A one-line progress bar for long reads and writes (loading shards, converting, saving). It draws
// on stderr only when stderr is a terminal, so pipes, logs and tests never see it; setting
// HF_HUB_DISABLE_PROGRESS_BARS=1 (as for the Python tools) hides it on a terminal too.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace hfcpp {

class ProgressBar {
 public:
  enum class Unit { kBytes, kItems };

  ProgressBar(std::string label, std::uint64_t total, Unit unit = Unit::kBytes);
  // Erases the line if the bar is still shown (e.g. when an exception unwinds past it).
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(std::uint64_t amount);
  void set_label(std::string label);
  // Draws the final state and ends the line, so the last figures stay on screen.
  void finish();

  bool visible() const { return visible_; }
  std::uint64_t done() const { return done_; }

  // Whether bars are drawn in this process (stderr is a TTY and they are not disabled).
  static bool enabled();

  // The text of one bar line, `width` columns wide at most (exposed for tests).
  static std::string render(std::string_view label, std::uint64_t done, std::uint64_t total, Unit unit,
                            double elapsed_seconds, std::size_t width);

 private:
  void draw(bool force);

  std::string label_;
  std::uint64_t total_;
  Unit unit_;
  std::uint64_t done_ = 0;
  bool visible_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "0 B", "512 B", "20.0 kB", "1.50 GB": decimal units, as Transformers and the Hub print sizes.
std::string format_bytes(std::uint64_t bytes);

}  // namespace hfcpp
