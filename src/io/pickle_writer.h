// Emits pickle protocol 2 the way Python's pickle.Pickler does (internal to src/io): the same
// opcodes for the same values and the same memo numbering, so a torch.save-like writer built on it
// produces byte-identical data.pkl records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hfcpp::pickle {

class PickleWriter {
 public:
  PickleWriter();  // writes PROTO 2

  // Python memoizes by object identity. Callers name identities: get() emits BINGET and returns
  // true when `identity` was memoized, put() memoizes the value just written under it, and
  // put_new() memoizes a value that is never referenced again (a fresh tuple, a call result).
  bool get(std::string_view identity);
  void put(std::string_view identity);
  void put_new();

  void global(std::string_view module, std::string_view name);
  void unicode(std::string_view text);
  void integer(std::int64_t value);
  void boolean(bool value);
  void empty_tuple();
  void empty_dict();
  void mark();
  // Closes a tuple of `size` items: TUPLE1-3 for short ones (no MARK), TUPLE after a MARK for
  // longer ones, EMPTY_TUPLE for none. Non-empty tuples are memoized as Python does.
  void begin_tuple(std::size_t size);
  void end_tuple(std::size_t size);
  void reduce();
  void persistent_id();
  void setitem();
  void setitems();
  // Finishes with STOP and returns the bytes.
  std::string finish();

 private:
  void memo_opcode(char one_byte, char four_byte, std::uint32_t index);
  std::string out_;
  std::uint32_t next_memo_ = 0;
  std::unordered_map<std::string, std::uint32_t> memo_;
};

}  // namespace hfcpp::pickle
