#include "pickle_machine.h"

#include <bit>
#include <cstring>

#include "hfcpp/error.h"

namespace hfcpp::pickle {
namespace {

// Opcodes by name (Python's pickletools): only these are run, anything else is refused.
enum Op : std::uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2',
  BINFLOAT = 'G', BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N', BINPERSID = 'Q',
  REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X', BINBYTES = 'B',
  SHORT_BINBYTES = 'C', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', APPENDS = 'e',
  BINGET = 'h', LONG_BINGET = 'j', LIST = 'l', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's',
  TUPLE = 't', SETITEMS = 'u', EMPTY_DICT = '}', EMPTY_LIST = ']', EMPTY_TUPLE = ')',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
  NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};

constexpr int kHighestProtocol = 5;
// Objects may take this many bytes per input byte (plus a constant) before the pickle is refused:
// real checkpoints use ~15.
constexpr std::uint64_t kBudgetPerInputByte = 64;
constexpr std::uint64_t kBudgetBase = std::uint64_t{16} << 20;

// UTF-8 as Python's 'surrogatepass' decoder accepts it (lone surrogates allowed).
bool valid_utf8(std::span<const std::uint8_t> s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    std::size_t extra = 0;
    std::uint32_t min = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { extra = 1; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; min = 0x10000; }
    else return false;
    if (s.size() - i <= extra) return false;
    std::uint32_t code = c & (0x3F >> extra);
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    if (code < min || code > 0x10FFFF) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: case Kind::kBigInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kNative: return "object";
  }
  return "object";
}

std::string printable(std::string_view text, std::size_t max_length) {
  std::string out;
  for (char ch : text.substr(0, max_length)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(ch);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (text.size() > max_length) out += "...";
  return out;
}

Object* Hooks::global(Unpickler& unpickler, std::string_view module, std::string_view name) {
  throw FormatError("refusing to unpickle global '" + printable(module) + "." + printable(name) +
                    "' in " + unpickler.label() + ": only tensors and containers are allowed");
}

Object* Hooks::call(Unpickler& unpickler, Object* callable, Object*) {
  unpickler.fail("cannot call a " + std::string(kind_name(callable->kind)));
}

Object* Hooks::persistent_load(Unpickler& unpickler, Object*) {
  unpickler.fail("persistent ids are not allowed here");
}

void Hooks::build(Unpickler& unpickler, Object* target, Object* state) {
  if (target->kind != Kind::kDict)
    unpickler.fail("BUILD on a " + std::string(kind_name(target->kind)) + " is not allowed");
  if (state->kind != Kind::kDict && state->kind != Kind::kNone && state->kind != Kind::kTuple)
    unpickler.fail("BUILD state of a dict must be a dict, found a " + std::string(kind_name(state->kind)));
  target->attributes = state;
}

Unpickler::Unpickler(std::span<const std::uint8_t> bytes, std::string label, Hooks& hooks)
    : bytes_(bytes),
      label_(std::move(label)),
      hooks_(hooks),
      budget_(kBudgetBase + kBudgetPerInputByte * bytes.size()) {}

void Unpickler::fail(const std::string& what) const {
  throw FormatError(label_ + ": invalid pickle at byte " + std::to_string(opcode_pos_) + ": " + what);
}

void Unpickler::charge(std::size_t bytes) {
  if (bytes > budget_)
    fail("the pickle builds more objects than its size can justify (a memory bomb?)");
  budget_ -= bytes;
}

Object* Unpickler::make(Kind kind) {
  charge(sizeof(Object));
  Object& object = arena_.emplace_back();
  object.kind = kind;
  return &object;
}

std::span<const std::uint8_t> Unpickler::take(std::uint64_t count) {
  if (count > bytes_.size() - pos_)
    fail("needs " + std::to_string(count) + " more bytes but only " +
         std::to_string(bytes_.size() - pos_) + " remain (truncated?)");
  auto out = bytes_.subspan(pos_, static_cast<std::size_t>(count));
  pos_ += static_cast<std::size_t>(count);
  return out;
}

std::uint64_t Unpickler::take_le(std::size_t width) {
  const auto raw = take(width);
  std::uint64_t value = 0;
  for (std::size_t i = width; i-- > 0;) value = (value << 8) | raw[i];
  return value;
}

std::string_view Unpickler::take_line() {
  const auto rest = bytes_.subspan(pos_);
  const void* newline = std::memchr(rest.data(), '\n', rest.size());
  if (newline == nullptr) fail("GLOBAL name is not terminated by a newline");
  const std::size_t length = static_cast<const std::uint8_t*>(newline) - rest.data();
  pos_ += length + 1;
  return {reinterpret_cast<const char*>(rest.data()), length};
}

void Unpickler::push(Object* object) {
  charge(sizeof(Object*));
  stack_.push_back(object);
}

Object* Unpickler::top() {
  const std::size_t floor = marks_.empty() ? 0 : marks_.back();
  if (stack_.size() <= floor) fail("stack underflow");
  return stack_.back();
}

Object* Unpickler::pop() {
  Object* object = top();
  stack_.pop_back();
  return object;
}

Object* Unpickler::below(std::size_t first) {
  const std::size_t floor = marks_.empty() ? 0 : marks_.back();
  if (first <= floor) fail("stack underflow");
  return stack_[first - 1];
}

std::size_t Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK to pop to");
  const std::size_t first = marks_.back();
  marks_.pop_back();
  return first;
}

Object* Unpickler::make_int(std::int64_t value) {
  Object* object = make(Kind::kInt);
  object->integer = value;
  return object;
}

Object* Unpickler::make_long(std::span<const std::uint8_t> le) {
  // Drop bytes that only repeat the sign, so equal numbers have equal encodings.
  std::size_t n = le.size();
  while (n > 1 && ((le[n - 1] == 0x00 && !(le[n - 2] & 0x80)) || (le[n - 1] == 0xFF && (le[n - 2] & 0x80))))
    --n;
  if (n == 0) return make_int(0);
  if (n <= 8) {
    std::uint64_t value = (le[n - 1] & 0x80) ? ~std::uint64_t{0} : 0;
    for (std::size_t i = n; i-- > 0;) value = (value << 8) | le[i];
    return make_int(static_cast<std::int64_t>(value));
  }
  charge(n);
  Object* object = make(Kind::kBigInt);
  object->text.assign(reinterpret_cast<const char*>(le.data()), n);
  return object;
}

Object* Unpickler::make_text(Kind kind, std::span<const std::uint8_t> bytes) {
  if (kind == Kind::kString && !valid_utf8(bytes)) fail("string is not valid UTF-8");
  charge(bytes.size());
  Object* object = make(kind);
  object->text.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return object;
}

Object* Unpickler::make_tuple(std::size_t first) {
  Object* tuple = make(Kind::kTuple);
  tuple->items.assign(stack_.begin() + static_cast<std::ptrdiff_t>(first), stack_.end());
  stack_.resize(first);
  return tuple;
}

void Unpickler::memo_put(std::uint64_t index) {
  charge(sizeof(std::uint64_t) + sizeof(Object*) + 16);
  memo_[index] = top();
}

Object* Unpickler::memo_get(std::uint64_t index) {
  auto it = memo_.find(index);
  if (it == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
  return it->second;
}

void Unpickler::set_item(Object* dict, Object* key, Object* value) {
  if (dict->kind != Kind::kDict)
    fail("SETITEM on a " + std::string(kind_name(dict->kind)) + ", which is not a dict");
  if (key->kind == Kind::kString) {
    auto [it, inserted] = dict->string_keys.try_emplace(key->text, dict->items.size() + 1);
    if (!inserted) {
      dict->items[it->second] = value;
      return;
    }
    charge(64);  // the index entry
  }
  charge(2 * sizeof(Object*));
  dict->items.push_back(key);
  dict->items.push_back(value);
}

void Unpickler::append_items(Object* list, std::size_t first) {
  if (list->kind != Kind::kList)
    fail("APPEND on a " + std::string(kind_name(list->kind)) + ", which is not a list");
  list->items.insert(list->items.end(), stack_.begin() + static_cast<std::ptrdiff_t>(first), stack_.end());
  stack_.resize(first);
}

void Unpickler::set_items(Object* dict, std::size_t first) {
  if ((stack_.size() - first) % 2 != 0) fail("SETITEMS with an odd number of items");
  for (std::size_t i = first; i < stack_.size(); i += 2) set_item(dict, stack_[i], stack_[i + 1]);
  stack_.resize(first);
}

Object* Unpickler::load() {
  stack_.clear();
  marks_.clear();
  while (true) {
    opcode_pos_ = pos_;
    if (pos_ >= bytes_.size()) fail("the pickle ends without a STOP opcode (truncated?)");
    const std::uint8_t opcode = bytes_[pos_++];
    if (opcode == STOP) {
      Object* result = pop();
      stack_.clear();
      marks_.clear();
      return result;
    }
    step(opcode);
  }
}

void Unpickler::step(std::uint8_t opcode) {
  switch (opcode) {
    case PROTO: {
      const auto version = take_le(1);
      if (version > kHighestProtocol) fail("unsupported pickle protocol " + std::to_string(version));
      return;
    }
    case FRAME: take_le(8); return;  // framing only batches reads; the bytes follow inline
    case MARK: charge(sizeof(std::size_t)); marks_.push_back(stack_.size()); return;
    case POP:
      if (!marks_.empty() && marks_.back() == stack_.size()) marks_.pop_back();
      else pop();
      return;
    case POP_MARK: stack_.resize(pop_mark()); return;
    case DUP: push(top()); return;

    case NONE: push(make(Kind::kNone)); return;
    case NEWTRUE: case NEWFALSE: {
      Object* object = make(Kind::kBool);
      object->integer = opcode == NEWTRUE;
      push(object);
      return;
    }
    case BININT: push(make_int(static_cast<std::int32_t>(take_le(4)))); return;
    case BININT1: push(make_int(static_cast<std::int64_t>(take_le(1)))); return;
    case BININT2: push(make_int(static_cast<std::int64_t>(take_le(2)))); return;
    case LONG1: push(make_long(take(take_le(1)))); return;
    case LONG4: {
      const auto length = static_cast<std::int32_t>(take_le(4));
      if (length < 0) fail("LONG4 with negative length");
      push(make_long(take(static_cast<std::uint64_t>(length))));
      return;
    }
    case BINFLOAT: {
      const auto raw = take(8);
      std::uint64_t bits = 0;
      for (std::uint8_t b : raw) bits = (bits << 8) | b;  // big-endian
      Object* object = make(Kind::kFloat);
      object->real = std::bit_cast<double>(bits);
      push(object);
      return;
    }

    // Python 2 str (BINSTRING) decodes as UTF-8, as torch.load(encoding='utf-8') does.
    case BINUNICODE: case BINSTRING: {
      const std::uint64_t length = take_le(4);
      if (opcode == BINSTRING && static_cast<std::int32_t>(length) < 0) fail("BINSTRING with negative length");
      push(make_text(Kind::kString, take(length)));
      return;
    }
    case SHORT_BINUNICODE: case SHORT_BINSTRING: push(make_text(Kind::kString, take(take_le(1)))); return;
    case BINUNICODE8: push(make_text(Kind::kString, take(take_le(8)))); return;
    case BINBYTES: push(make_text(Kind::kBytes, take(take_le(4)))); return;
    case SHORT_BINBYTES: push(make_text(Kind::kBytes, take(take_le(1)))); return;
    case BINBYTES8: push(make_text(Kind::kBytes, take(take_le(8)))); return;

    case EMPTY_TUPLE: push(make(Kind::kTuple)); return;
    case TUPLE: push(make_tuple(pop_mark())); return;
    case TUPLE1: case TUPLE2: case TUPLE3: {
      const std::size_t count = opcode - TUPLE1 + 1;
      const std::size_t floor = marks_.empty() ? 0 : marks_.back();
      if (stack_.size() < floor + count) fail("stack underflow");
      push(make_tuple(stack_.size() - count));
      return;
    }
    case EMPTY_LIST: push(make(Kind::kList)); return;
    case LIST: {
      const std::size_t first = pop_mark();
      Object* list = make(Kind::kList);
      charge((stack_.size() - first) * sizeof(Object*));
      list->items.assign(stack_.begin() + static_cast<std::ptrdiff_t>(first), stack_.end());
      stack_.resize(first);
      push(list);
      return;
    }
    case EMPTY_DICT: push(make(Kind::kDict)); return;
    case DICT: {
      const std::size_t first = pop_mark();
      Object* dict = make(Kind::kDict);
      set_items(dict, first);
      push(dict);
      return;
    }
    case APPEND: {
      Object* value = pop();
      charge(sizeof(Object*));
      Object* list = top();
      if (list->kind != Kind::kList)
        fail("APPEND on a " + std::string(kind_name(list->kind)) + ", which is not a list");
      list->items.push_back(value);
      return;
    }
    case APPENDS: {
      const std::size_t first = pop_mark();
      charge((stack_.size() - first) * sizeof(Object*));
      append_items(below(first), first);
      return;
    }
    case SETITEM: {
      Object* value = pop();
      Object* key = pop();
      set_item(top(), key, value);
      return;
    }
    case SETITEMS: {
      const std::size_t first = pop_mark();
      set_items(below(first), first);
      return;
    }

    case BINPUT: memo_put(take_le(1)); return;
    case LONG_BINPUT: memo_put(take_le(4)); return;
    case MEMOIZE: memo_put(memo_.size()); return;
    case BINGET: push(memo_get(take_le(1))); return;
    case LONG_BINGET: push(memo_get(take_le(4))); return;

    case GLOBAL: {
      const std::string_view module = take_line();
      const std::string_view name = take_line();
      push(hooks_.global(*this, module, name));
      return;
    }
    case STACK_GLOBAL: {
      Object* name = pop();
      Object* module = pop();
      if (module->kind != Kind::kString || name->kind != Kind::kString)
        fail("STACK_GLOBAL needs two strings");
      push(hooks_.global(*this, module->text, name->text));
      return;
    }
    case REDUCE: case NEWOBJ: {
      Object* args = pop();
      Object* callable = pop();
      if (args->kind != Kind::kTuple) fail("call arguments are a " + std::string(kind_name(args->kind)) + ", not a tuple");
      push(hooks_.call(*this, callable, args));
      return;
    }
    case NEWOBJ_EX: {
      Object* kwargs = pop();
      Object* args = pop();
      Object* cls = pop();
      if (args->kind != Kind::kTuple || kwargs->kind != Kind::kDict || kwargs->dict_size() != 0)
        fail("NEWOBJ_EX needs a tuple and an empty dict");
      push(hooks_.call(*this, cls, args));
      return;
    }
    case BUILD: {
      Object* state = pop();
      hooks_.build(*this, top(), state);
      return;
    }
    case BINPERSID: {
      Object* pid = pop();
      push(hooks_.persistent_load(*this, pid));
      return;
    }
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      fail(std::string("unsupported pickle opcode 0x") + kHex[opcode >> 4] + kHex[opcode & 0xF]);
    }
  }
}

}  // namespace hfcpp::pickle
