// Hand-assembled .bin checkpoints. Hostile and broken ones must give a FormatError that names the
// file and says what is wrong; never a crash, an out-of-bounds read, or code run from the pickle.
// Valid ones cover pickle styles the torch 1.13 fixtures lack (torch 2.x, parameters, views).
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "hfcpp/io/torch_bin.h"
#include "hfcpp/io/zip.h"
#include "test_support.h"

namespace hfcpp {
namespace {

// --- A tiny pickle assembler, so every hostile case reads as what it does -----------------------

std::string le(std::uint64_t v, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}
std::string str(const std::string& s) { return "X" + le(s.size(), 4) + s; }
std::string integer(std::int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) return "J" + le(static_cast<std::uint32_t>(v), 4);
  return "\x8a\x08" + le(static_cast<std::uint64_t>(v), 8);
}
std::string tuple(const std::vector<std::int64_t>& values) {
  std::string out = "(";
  for (auto v : values) out += integer(v);
  return out + "t";
}
std::string global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
const std::string kProto = "\x80\x02";

struct TensorSpec {
  std::string storage_class = "FloatStorage";
  std::int64_t storage_numel = 4;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape = {4};
  std::vector<std::int64_t> stride = {1};
};

std::string rebuild(const TensorSpec& t) {
  return global("torch._utils", "_rebuild_tensor_v2") + "((" + str("storage") +
         global("torch", t.storage_class) + str("0") + str("cpu") + integer(t.storage_numel) + "tQ" +
         integer(t.offset) + tuple(t.shape) + tuple(t.stride) + "\x89" +
         global("collections", "OrderedDict") + ")RtR";
}

// {"t": tensor} as torch.save pickles it.
std::string state_dict_pickle(const TensorSpec& t) { return kProto + "}(" + str("t") + rebuild(t) + "u."; }

void write_archive(const std::filesystem::path& path, const std::string& pickle,
                   const std::string& storage_bytes = std::string(16, '\0'),
                   const std::string& version = "3\n") {
  FileWriter out(path);
  ZipWriter zip(out);
  zip.add("archive/data.pkl", pickle);
  zip.add("archive/data/0", storage_bytes);
  zip.add("archive/version", version);
  zip.finish();
  out.close();
}

std::string valid_archive_bytes(const testing::TempDir& dir) {
  const auto path = dir / "valid.bin";
  write_archive(path, state_dict_pickle({}));
  return testing::read_file(path);
}

// Opens `path` expecting a FormatError that names it and contains `message`.
void expect_refused(const std::filesystem::path& path, const std::string& message) {
  try {
    TorchBinFile::open(path);
    ADD_FAILURE() << "accepted " << path;
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find(message), std::string::npos) << "expected '" << message << "' in: " << what;
  }
}

void expect_pickle_refused(const testing::TempDir& dir, const std::string& name, const std::string& pickle,
                           const std::string& message) {
  SCOPED_TRACE(name);
  const auto path = dir / ("bin_" + name + ".bin");
  write_archive(path, pickle);
  expect_refused(path, message);
}

// A storage id as torch 2.x writes it for untyped storages, and _rebuild_tensor_v3 over it.
std::string rebuild_v3(const std::string& dtype, std::int64_t nbytes, const std::vector<std::int64_t>& shape,
                       const std::vector<std::int64_t>& stride) {
  return global("torch._utils", "_rebuild_tensor_v3") + "((" + str("storage") +
         global("torch", "UntypedStorage") + str("0") + str("cpu") + integer(nbytes) + "tQ" + integer(0) +
         tuple(shape) + tuple(stride) + "\x89" + global("collections", "OrderedDict") + ")R" +
         global("torch", dtype) + "tR";
}

TEST(TorchBinPickle, OtherWritersStylesLoad) {
  testing::TempDir dir;
  const std::string bytes = [] {
    std::string b;
    for (int i = 0; i < 16; ++i) b.push_back(static_cast<char>(i));
    return b;
  }();
  auto open_with = [&](const std::string& name, const std::string& pickle) {
    const auto path = dir / (name + ".bin");
    write_archive(path, pickle, bytes);
    return TorchBinFile::open(path);
  };
  const at::Tensor as_bytes = at::arange(16, at::kByte);

  // torch 2.x: an untyped byte storage viewed as bfloat16 through _rebuild_tensor_v3.
  auto v3 = open_with("v3", kProto + "}(" + str("t") + rebuild_v3("bfloat16", 16, {2, 4}, {4, 1}) + "u.");
  EXPECT_EQ(v3.storages()[0].dtype, c10::ScalarType::Byte);
  EXPECT_EQ(v3.storages()[0].alignment, 2u);
  EXPECT_TRUE(testing::tensors_equal(v3.tensor("t"), as_bytes.view(at::kBFloat16).view({2, 4})));

  // Parameters: _rebuild_parameter, _rebuild_parameter_with_state, and _rebuild_from_type_v2
  // (tensor subclasses), plus BUILD with a parameter's attribute dict; protocol 4 opcodes
  // (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE) and the state dict's OrderedDict _metadata.
  const std::string tensor = rebuild({.storage_class = "ByteStorage", .storage_numel = 16, .shape = {16}});
  const std::string parameter = global("torch._utils", "_rebuild_parameter") + "(" + tensor + "\x88" +
                                global("collections", "OrderedDict") + ")Rt" + "R";
  const std::string with_state = global("torch._utils", "_rebuild_parameter_with_state") + "(" + tensor +
                                 "\x89" + global("collections", "OrderedDict") + ")R}tR";
  const std::string from_type = global("torch._tensor", "_rebuild_from_type_v2") + "(" +
                                global("torch._utils", "_rebuild_tensor_v2") +
                                global("torch.nn.parameter", "Parameter") + "(" + "(" + str("storage") +
                                global("torch", "ByteStorage") + str("0") + str("cpu") + integer(16) + "tQ" +
                                integer(0) + tuple({16}) + tuple({1}) + "\x89" +
                                global("collections", "OrderedDict") + ")Rt}tR";
  // BUILD state {"_metadata": {"": {"version": 1}}}, as state_dict() pickles it.
  const std::string metadata = "}" + str("_metadata") + "}(" + str("") + "}" + str("version") + "K\x01s" + "u" + "s";
  const std::string protocol4 = "\x80\x04\x95" + le(0, 8) + "\x8c\x0b" + "collections" + "\x94\x8c\x0b" +
                                "OrderedDict" + "\x94\x93\x94)R\x94(" + "\x8c\x01p\x94" + parameter +
                                "\x8c\x01q" + with_state + "}b" + str("r") + from_type + "u" + metadata + "b.";
  auto params = open_with("params", protocol4);
  ASSERT_EQ(params.entries().size(), 3u);
  for (const char* name : {"p", "q", "r"}) EXPECT_TRUE(testing::tensors_equal(params.tensor(name), as_bytes)) << name;
  EXPECT_EQ(params.storages().size(), 1u);

  // Legacy storage views: ('storage', type, root key, location, root numel, (view key, offset, numel)).
  const std::string view_pid = "((" + str("storage") + global("torch", "FloatStorage") + str("0") + str("cpu") +
                               integer(4) + "(" + str("view") + integer(1) + integer(2) + "ttQ";
  const std::string view = kProto + "}(" + str("v") + global("torch._utils", "_rebuild_tensor_v2") + view_pid +
                           integer(1) + tuple({1}) + tuple({1}) + "\x89" + global("collections", "OrderedDict") +
                           ")RtRu.";
  auto views = open_with("views", view);
  EXPECT_EQ(views.entries()[0].storage_offset, 2);
  EXPECT_TRUE(testing::tensors_equal(views.tensor("v"), as_bytes.view(at::kFloat).slice(0, 2, 3)));
  const std::string view_too_far = kProto + "}(" + str("v") + global("torch._utils", "_rebuild_tensor_v2") +
                                   view_pid + integer(2) + tuple({1}) + tuple({1}) + "\x89" +
                                   global("collections", "OrderedDict") + ")RtRu.";
  write_archive(dir / "bin_view_too_far.bin", view_too_far, bytes);
  expect_refused(dir / "bin_view_too_far.bin", "beyond the storage");
}

TEST(TorchBinHostile, ValidBaselineLoads) {
  testing::TempDir dir;
  write_archive(dir / "ok.bin", state_dict_pickle({}));
  const auto file = TorchBinFile::open(dir / "ok.bin");
  EXPECT_TRUE(testing::tensors_equal(file.tensor("t"), at::zeros({4})));
}

TEST(TorchBinHostile, GlobalsOutsideTheAllowListAreRefused) {
  testing::TempDir dir;
  // os.system("echo pwned") via GLOBAL + REDUCE: refused at the GLOBAL, nothing runs.
  expect_pickle_refused(dir, "os_system", kProto + global("os", "system") + "(" + str("echo pwned") + "tR.",
                        "refusing to unpickle global 'os.system' in ");
  expect_pickle_refused(dir, "builtins_eval", kProto + str("builtins") + str("eval") + "\x93" + ")R.",
                        "refusing to unpickle global 'builtins.eval'");
  expect_pickle_refused(dir, "torch_load", kProto + global("torch", "load") + ")R.",
                        "refusing to unpickle global 'torch.load'");
  // The same inside an otherwise valid tensor record.
  TensorSpec evil;
  evil.storage_class = "FloatStorage\ncposix\nsystem";
  expect_pickle_refused(dir, "storage_class_injection", state_dict_pickle(evil), "refusing to unpickle global");
}

TEST(TorchBinHostile, MalformedPicklesAreRefused) {
  testing::TempDir dir;
  expect_pickle_refused(dir, "stack_underflow", kProto + "R.", "stack underflow");
  expect_pickle_refused(dir, "pop_below_mark", kProto + "N(R.", "stack underflow");
  expect_pickle_refused(dir, "tuple_without_mark", kProto + "Nt.", "no MARK");
  expect_pickle_refused(dir, "memo_out_of_range", kProto + "h\x05.", "memo index 5 was never stored");
  expect_pickle_refused(dir, "long_memo_out_of_range", kProto + "j\xff\xff\xff\xff.", "never stored");
  expect_pickle_refused(dir, "no_stop", kProto + "}", "without a STOP");
  expect_pickle_refused(dir, "huge_string", kProto + "X\xff\xff\xff\xff" + "abc", "truncated");
  expect_pickle_refused(dir, "huge_bytes8", kProto + "\x8e" + le(~0ull, 8), "truncated");
  expect_pickle_refused(dir, "bad_utf8", kProto + "X" + le(2, 4) + "\xc3\x28.", "not valid UTF-8");
  expect_pickle_refused(dir, "unknown_opcode", kProto + "\xff.", "unsupported pickle opcode 0xff");
  expect_pickle_refused(dir, "protocol_6", "\x80\x06}.", "unsupported pickle protocol 6");
  expect_pickle_refused(dir, "reduce_on_string", kProto + str("a") + ")R.", "not callable");
  expect_pickle_refused(dir, "reduce_on_storage_class", kProto + global("torch", "FloatStorage") + ")R.",
                        "is not callable");
  expect_pickle_refused(dir, "setitem_on_list", kProto + "]" + str("k") + "Ns.", "not a dict");
  expect_pickle_refused(dir, "append_on_dict", kProto + "}Na.", "not a list");
  expect_pickle_refused(dir, "build_on_int", kProto + "K\x01}b.", "BUILD on a int");
  expect_pickle_refused(dir, "persid_not_storage", kProto + "}(" + str("t") + "(" + str("module") + "NNNNtQu.",
                        "unsupported persistent id");
  expect_pickle_refused(dir, "not_a_dict", kProto + "].", "holds a list, not a {name: tensor} state dict");
  expect_pickle_refused(dir, "non_tensor_value", kProto + "}(" + str("epoch") + "K\x03u.",
                        "the value of 'epoch' is a int, not a tensor");
  expect_pickle_refused(dir, "nested_state_dict", kProto + "}(" + str("model") + "}u.",
                        "the value of 'model' is a dict, not a tensor");
  expect_pickle_refused(dir, "non_string_key", kProto + "}(K\x01" + rebuild({}) + "u.", "not a string");
  // Deep nesting costs no recursion: 200k nested lists are just objects in the arena.
  std::string deep = kProto;
  for (int i = 0; i < 200000; ++i) deep += "]";
  for (int i = 0; i < 199999; ++i) deep += "a";
  expect_pickle_refused(dir, "deep_nesting", deep + ".", "holds a list");
  // Unclosed MARKs are harmless: Python also returns the top of the stack at STOP.
  write_archive(dir / "many_marks.bin", kProto + std::string(500000, '(') + "}.");
  EXPECT_TRUE(TorchBinFile::open(dir / "many_marks.bin").entries().empty());
}

TEST(TorchBinHostile, TensorsOutsideTheirStorageAreRefused) {
  testing::TempDir dir;
  auto refused = [&](const std::string& name, const TensorSpec& spec, const std::string& message) {
    expect_pickle_refused(dir, name, state_dict_pickle(spec), message);
  };
  refused("shape_past_storage", {.storage_numel = 4, .shape = {3, 3}, .stride = {3, 1}}, "beyond the storage");
  refused("stride_past_storage", {.storage_numel = 4, .shape = {2}, .stride = {4}}, "beyond the storage");
  refused("offset_past_storage", {.storage_numel = 4, .offset = 1, .shape = {4}}, "beyond the storage");
  refused("offset_of_empty_past_storage", {.storage_numel = 4, .offset = 9, .shape = {0}}, "starts at byte 36");
  refused("negative_size", {.shape = {-1}}, "tensor size must be a non-negative integer");
  refused("negative_stride", {.shape = {2}, .stride = {-1}}, "tensor stride must be a non-negative");
  refused("negative_offset", {.offset = -4}, "storage offset must be a non-negative");
  refused("negative_storage_size", {.storage_numel = -1}, "storage size must be a non-negative");
  refused("storage_size_overflow", {.storage_numel = INT64_MAX / 2}, "size overflows");
  refused("shape_overflow", {.shape = {INT64_MAX, INT64_MAX}, .stride = {1, 1}}, "overflows");
  refused("stride_overflow", {.shape = {2, 2}, .stride = {INT64_MAX, 1}}, "overflows");
  refused("rank_mismatch", {.shape = {2, 2}, .stride = {1}}, "dimensions but stride 1");
  refused("rank_too_high", {.shape = std::vector<std::int64_t>(100, 1), .stride = std::vector<std::int64_t>(100, 1)},
          "more than 64");
  refused("unknown_storage_type", {.storage_class = "QInt8Storage"}, "refusing to unpickle global 'torch.QInt8Storage'");
  // The storage's record holds fewer bytes than the pickle claims.
  const auto path = dir / "bin_short_record.bin";
  write_archive(path, state_dict_pickle({.storage_numel = 8, .shape = {8}}), std::string(16, '\0'));
  expect_refused(path, "holds 16 bytes but its storage needs 32");
  // One storage key used with two sizes.
  const std::string twice = kProto + "}(" + str("a") + rebuild({}) + str("b") + rebuild({.storage_numel = 2, .shape = {2}}) + "u.";
  expect_pickle_refused(dir, "storage_redefined", twice, "referenced as 2 Float elements but earlier as 4");
}

TEST(TorchBinHostile, BrokenArchivesAreRefused) {
  testing::TempDir dir;
  const std::string valid = valid_archive_bytes(dir);
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& message) {
    SCOPED_TRACE(name);
    const auto path = dir / ("bin_" + name + ".bin");
    testing::write_file(path, bytes);
    expect_refused(path, message);
  };
  const std::size_t end = valid.rfind("PK\x05\x06");
  ASSERT_NE(end, std::string::npos);
  const std::uint32_t directory = static_cast<std::uint8_t>(valid[end + 16]) |
                                  static_cast<std::uint8_t>(valid[end + 17]) << 8;
  auto patched = [&](std::size_t at, const std::string& bytes) {
    std::string copy = valid;
    copy.replace(at, bytes.size(), bytes);
    return copy;
  };

  refused("empty", "", "the file is empty");
  refused("not_a_checkpoint", "hello world", "neither a zip archive nor a legacy");
  refused("truncated_end", valid.substr(0, valid.size() - 1), "no end-of-central-directory record");
  refused("truncated_half", valid.substr(0, valid.size() / 2), "no end-of-central-directory record");
  // torch (and ZipWriter) always write ZIP64 end records, whose fields readers take over the
  // classic end record's: break those, and the classic ones of the archive without them.
  const std::size_t zip64_end = valid.rfind("PK\x06\x06");
  ASSERT_NE(zip64_end, std::string::npos);
  refused("zip64_directory_out_of_bounds", patched(zip64_end + 48, le(0x7FFFFFFFFFFFFFF0, 8)), "lies outside the file");
  refused("zip64_directory_size_huge", patched(zip64_end + 40, le(~0ull, 8)), "lies outside the file");
  refused("zip64_too_many_entries", patched(zip64_end + 32, le(1ull << 60, 8)), "cannot hold them");
  refused("zip64_locator_out_of_bounds", patched(end - 12, le(1ull << 62, 8)), "no ZIP64 end record");
  refused("zip64_multi_disk", patched(zip64_end + 16, le(1, 4)), "multi-disk");
  const std::string classic = valid.substr(0, zip64_end) + valid.substr(end);
  const std::size_t classic_end = zip64_end;
  auto classic_patched = [&](std::size_t at, const std::string& bytes) {
    std::string copy = classic;
    copy.replace(at, bytes.size(), bytes);
    return copy;
  };
  {
    const auto path = dir / "classic.bin";
    testing::write_file(path, classic);
    EXPECT_EQ(TorchBinFile::open(path).entries().size(), 1u);
  }
  refused("directory_out_of_bounds", classic_patched(classic_end + 16, le(0x7FFFFFF0, 4)), "lies outside the file");
  refused("directory_size_huge", classic_patched(classic_end + 12, le(0xFFFFFF00, 4)), "lies outside the file");
  refused("too_many_entries", classic_patched(classic_end + 10, le(60000, 2)), "cannot hold them");
  refused("multi_disk", classic_patched(classic_end + 4, le(1, 2)), "multi-disk");
  refused("comment_past_end", classic_patched(classic_end + 20, le(100, 2)), "no end-of-central-directory record");
  {
    // A comment of up to 64 KiB after the end record is fine.
    std::string commented = classic_patched(classic_end + 20, le(60000, 2)) + std::string(60000, 'c');
    const auto path = dir / "commented.bin";
    testing::write_file(path, commented);
    EXPECT_EQ(TorchBinFile::open(path).entries().size(), 1u);
  }
  refused("local_header_out_of_bounds", patched(directory + 42, le(0x7FFFFFF0, 4)), "reach past the central directory");
  refused("compressed_pickle", patched(directory + 10, le(8, 2)), "compressed (method 8)");
  refused("encrypted_pickle", patched(directory + 8, le(0x0809, 2)), "encrypted");
  refused("size_past_end", patched(directory + 24, le(0x7FFFFFF0, 4)), "");
  refused("local_name_differs", patched(30, "X"), "names a different file");
  refused("corrupt_pickle_crc", patched(directory + 16, le(0x12345678, 4)), "CRC-32 mismatch");
  refused("not_in_folder", patched(directory + 46, "archive\\"), "not inside a folder");
  // Every truncation of a valid archive is refused cleanly.
  for (std::size_t cut = 0; cut < valid.size(); cut += 7) {
    const auto path = dir / "truncated.bin";
    testing::write_file(path, valid.substr(0, cut));
    EXPECT_THROW(TorchBinFile::open(path), FormatError) << "cut at " << cut;
  }

  // Compressed storage record (method 8 in its central entry).
  const std::size_t second = valid.find("PK\x01\x02", directory + 4);
  refused("compressed_storage", patched(second + 10, le(8, 2)), "compressed (method 8)");

  auto archive_with = [&](const std::string& name, const std::string& pickle, const std::string& version,
                          const std::string& message) {
    SCOPED_TRACE(name);
    const auto path = dir / ("bin_" + name + ".bin");
    write_archive(path, pickle, std::string(16, '\0'), version);
    expect_refused(path, message);
  };
  archive_with("bad_version", state_dict_pickle({}), "99\n", "unsupported format version '99'");
  archive_with("text_version", state_dict_pickle({}), "three", "unsupported format version");

  const auto no_storage = dir / "bin_missing_storage.bin";
  {
    FileWriter out(no_storage);
    ZipWriter zip(out);
    zip.add("archive/data.pkl", state_dict_pickle({}));
    zip.add("archive/version", "3\n");
    zip.finish();
    out.close();
  }
  expect_refused(no_storage, "storage '0' has no record 'archive/data/0'");

  const auto duplicate = dir / "bin_duplicate_entry.bin";
  {
    FileWriter out(duplicate);
    ZipWriter zip(out);
    zip.add("archive/data.pkl", state_dict_pickle({}));
    zip.add("archive/data.pkl", state_dict_pickle({}));
    zip.finish();
    out.close();
  }
  expect_refused(duplicate, "two entries with this name");
}

TEST(TorchBinHostile, BrokenLegacyFilesAreRefused) {
  testing::TempDir dir;
  const std::string valid = testing::read_file(testing::data_path("io/bin/torch_save/state_legacy.bin"));
  auto refused = [&](const std::string& name, const std::string& bytes, const std::string& message) {
    SCOPED_TRACE(name);
    const auto path = dir / ("bin_legacy_" + name + ".bin");
    testing::write_file(path, bytes);
    expect_refused(path, message);
  };
  refused("no_magic", kProto + "K\x01.", "no magic number");
  refused("truncated_data", valid.substr(0, valid.size() - 1), "");
  for (std::size_t cut = 0; cut < valid.size(); cut += 101) {
    const auto path = dir / "legacy_truncated.bin";
    testing::write_file(path, valid.substr(0, cut));
    EXPECT_THROW(TorchBinFile::open(path), FormatError) << "cut at " << cut;
  }
  // The element count before the first storage's bytes disagrees with the pickle.
  const std::size_t keys_end = valid.find("e.", valid.find("\x80\x02]")) + 2;
  std::string wrong_count = valid;
  wrong_count[keys_end] = static_cast<char>(wrong_count[keys_end] + 1);
  refused("wrong_count", wrong_count, "elements in the file but the pickle says");
}

}  // namespace
}  // namespace hfcpp
