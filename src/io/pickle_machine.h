// A safe pickle virtual machine (internal to src/io): it runs the opcodes of protocols 2-5 that
// data files use, builds plain containers itself, and asks its Hooks for everything that would
// run code in Python (globals, calls, persistent ids, BUILD). The default hooks refuse all of it.
//
// Hostile input cannot crash it: every read is bounds-checked, pops never go below the current
// MARK, memo lookups are checked, and objects live in an arena owned by the Unpickler (no
// recursion to build or free them, so nesting depth and reference cycles cost nothing). A byte
// budget proportional to the input stops pickles that expand (repeated calls on memoized
// arguments) before they exhaust memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hfcpp::pickle {

enum class Kind : std::uint8_t {
  kNone,
  kBool,
  kInt,     // fits in int64
  kBigInt,  // does not: `text` holds its minimal little-endian two's complement bytes
  kFloat,
  kString,  // valid UTF-8
  kBytes,
  kTuple,
  kList,
  kDict,
  kGlobal,  // a global the hooks accepted: `integer` and `tag` are theirs, `text` is "module.name"
  kNative,  // an object the hooks made (a tensor, a storage): `integer` and `tag` are theirs
};
std::string_view kind_name(Kind kind);

struct Object {
  Kind kind = Kind::kNone;
  std::int64_t integer = 0;  // Bool, Int; Global and Native: meaning chosen by the hooks
  std::int64_t tag = 0;      // Global and Native: meaning chosen by the hooks
  double real = 0;           // Float
  std::string text;          // String, Bytes, BigInt, Global name
  std::vector<Object*> items;  // Tuple, List; Dict: key0, value0, key1, value1, ...
  // Dict: where each string key's value sits in `items`, so a repeated key replaces its value as
  // in Python (other key types are appended without this check).
  std::unordered_map<std::string_view, std::size_t> string_keys;
  Object* attributes = nullptr;  // Dict: the state BUILD gave it (OrderedDict's _metadata)

  std::size_t dict_size() const { return items.size() / 2; }
};

class Unpickler;

// What a pickle may do beyond building containers. Every default refuses with a FormatError.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // GLOBAL / STACK_GLOBAL. Must return a kGlobal object or throw.
  virtual Object* global(Unpickler& unpickler, std::string_view module, std::string_view name);
  // REDUCE (callable(*args)) and NEWOBJ (cls.__new__(cls, *args)); `args` is a tuple.
  virtual Object* call(Unpickler& unpickler, Object* callable, Object* args);
  // BINPERSID.
  virtual Object* persistent_load(Unpickler& unpickler, Object* pid);
  // BUILD; the default stores a dict's state as its attributes and refuses anything else.
  virtual void build(Unpickler& unpickler, Object* target, Object* state);
};

class Unpickler {
 public:
  // `label` names the input in errors (the file, and the record inside an archive).
  Unpickler(std::span<const std::uint8_t> bytes, std::string label, Hooks& hooks);

  // Runs one pickle from position() to its STOP and returns its value. Objects stay valid as
  // long as the Unpickler lives; load() may be called again for a following pickle.
  Object* load();
  std::size_t position() const { return pos_; }
  const std::string& label() const { return label_; }

  // For hooks: a new object (charged to the budget), and errors naming the input and offset.
  Object* make(Kind kind);
  void charge(std::size_t bytes);
  [[noreturn]] void fail(const std::string& what) const;
  // Python's dict[key] = value.
  void set_item(Object* dict, Object* key, Object* value);

 private:
  void step(std::uint8_t opcode);
  std::span<const std::uint8_t> take(std::uint64_t count);
  std::uint64_t take_le(std::size_t width);
  std::string_view take_line();

  Object* pop();
  Object* top();
  void push(Object* object);
  std::size_t pop_mark();  // index in stack_ of the first item above the last MARK
  Object* below(std::size_t first);  // the object under stack_[first], which must be above the floor
  Object* make_int(std::int64_t value);
  Object* make_long(std::span<const std::uint8_t> little_endian);
  Object* make_text(Kind kind, std::span<const std::uint8_t> bytes);
  Object* make_tuple(std::size_t first);  // from stack_[first..] (popped)
  void memo_put(std::uint64_t index);
  Object* memo_get(std::uint64_t index);
  void append_items(Object* list, std::size_t first);
  void set_items(Object* dict, std::size_t first);

  std::span<const std::uint8_t> bytes_;
  std::string label_;
  Hooks& hooks_;
  std::size_t pos_ = 0;
  std::size_t opcode_pos_ = 0;
  std::uint64_t budget_;

  std::deque<Object> arena_;
  std::vector<Object*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Object*> memo_;
};

// Short, printable rendering of untrusted text for error messages.
std::string printable(std::string_view text, std::size_t max_length = 120);

}  // namespace hfcpp::pickle
