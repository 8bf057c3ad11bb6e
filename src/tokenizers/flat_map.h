// A small open-addressing hash map from 64-bit keys to 64-bit values, for the hot lookups of
// the models (BPE merge ranks, Unigram trie edges): no node allocations, linear probing.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace hfcpp::tok {

class FlatMap64 {
 public:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  FlatMap64() { slots_.assign(16, {kEmpty, 0}); }

  std::size_t size() const { return size_; }

  // Inserts or overwrites.
  void set(std::uint64_t key, std::uint64_t value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    Slot& slot = find_slot(key);
    if (slot.key == kEmpty) {
      slot.key = key;
      ++size_;
    }
    slot.value = value;
  }

  const std::uint64_t* find(std::uint64_t key) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = mix(key) & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.key == key) return &slot.value;
      if (slot.key == kEmpty) return nullptr;
    }
  }

 private:
  struct Slot {
    std::uint64_t key;
    std::uint64_t value;
  };

  static std::size_t mix(std::uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<std::size_t>(key);
  }

  Slot& find_slot(std::uint64_t key) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = mix(key) & mask;; i = (i + 1) & mask)
      if (slots_[i].key == key || slots_[i].key == kEmpty) return slots_[i];
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, {kEmpty, 0});
    size_ = 0;
    for (const Slot& slot : old)
      if (slot.key != kEmpty) set(slot.key, slot.value);
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace hfcpp::tok
