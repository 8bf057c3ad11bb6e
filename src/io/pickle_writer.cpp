#include "pickle_writer.h"

namespace hfcpp::pickle {
namespace {

void put_le(std::string& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

}  // namespace

PickleWriter::PickleWriter() { out_ = "\x80\x02"; }

void PickleWriter::memo_opcode(char one_byte, char four_byte, std::uint32_t index) {
  if (index < 256) {
    out_.push_back(one_byte);
    put_le(out_, index, 1);
  } else {
    out_.push_back(four_byte);
    put_le(out_, index, 4);
  }
}

bool PickleWriter::get(std::string_view identity) {
  auto it = memo_.find(std::string(identity));
  if (it == memo_.end()) return false;
  memo_opcode('h', 'j', it->second);  // BINGET / LONG_BINGET
  return true;
}

void PickleWriter::put(std::string_view identity) {
  memo_.emplace(std::string(identity), next_memo_);
  put_new();
}

void PickleWriter::put_new() { memo_opcode('q', 'r', next_memo_++); }  // BINPUT / LONG_BINPUT

void PickleWriter::global(std::string_view module, std::string_view name) {
  out_.push_back('c');
  out_.append(module);
  out_.push_back('\n');
  out_.append(name);
  out_.push_back('\n');
}

void PickleWriter::unicode(std::string_view text) {
  out_.push_back('X');  // BINUNICODE: protocol 2 has no short form
  put_le(out_, text.size(), 4);
  out_.append(text);
}

void PickleWriter::integer(std::int64_t value) {
  if (value >= 0 && value <= 0xFF) {
    out_.push_back('K');
    put_le(out_, static_cast<std::uint64_t>(value), 1);
  } else if (value >= 0 && value <= 0xFFFF) {
    out_.push_back('M');
    put_le(out_, static_cast<std::uint64_t>(value), 2);
  } else if (value >= INT32_MIN && value <= INT32_MAX) {
    out_.push_back('J');
    put_le(out_, static_cast<std::uint32_t>(static_cast<std::int32_t>(value)), 4);
  } else {
    // LONG1 with Python's encode_long: the fewest two's complement bytes that keep the sign.
    const auto bits = static_cast<std::uint64_t>(value);
    int length = 8;
    while (length > 1) {
      const std::uint8_t top = (bits >> (8 * (length - 1))) & 0xFF;
      const bool next_negative = (bits >> (8 * (length - 2))) & 0x80;
      if ((top == 0x00 && !next_negative) || (top == 0xFF && next_negative)) --length;
      else break;
    }
    out_.push_back('\x8a');
    out_.push_back(static_cast<char>(length));
    put_le(out_, bits, length);
  }
}

void PickleWriter::boolean(bool value) { out_.push_back(value ? '\x88' : '\x89'); }
void PickleWriter::empty_tuple() { out_.push_back(')'); }
void PickleWriter::empty_dict() { out_.push_back('}'); }
void PickleWriter::mark() { out_.push_back('('); }

void PickleWriter::begin_tuple(std::size_t size) {
  if (size > 3) mark();
}

void PickleWriter::end_tuple(std::size_t size) {
  static constexpr char kShort[] = {')', '\x85', '\x86', '\x87'};  // EMPTY_TUPLE, TUPLE1-3
  if (size <= 3) out_.push_back(kShort[size]);
  else out_.push_back('t');
  if (size > 0) put_new();
}

void PickleWriter::reduce() { out_.push_back('R'); }
void PickleWriter::persistent_id() { out_.push_back('Q'); }
void PickleWriter::setitem() { out_.push_back('s'); }
void PickleWriter::setitems() { out_.push_back('u'); }

std::string PickleWriter::finish() {
  out_.push_back('.');
  return std::move(out_);
}

}  // namespace hfcpp::pickle
