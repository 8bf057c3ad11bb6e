// PyTorch .bin checkpoints: real files written by torch 1.13 (zip, sharded, legacy) and by
// transformers 4.30 (bert-caikit-random) read back with the values of the safetensors reference;
// save_torch_bin round trips, byte identity with torch.save, and loading in real PyTorch.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <set>

#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/io/torch_bin.h"
#include "hfcpp/io/zip.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using json = nlohmann::json;
using testing::data_path;

const std::string kWordEmbeddings = "bert.embeddings.word_embeddings.weight";
const std::string kDecoderWeight = "cls.predictions.decoder.weight";
const std::string kDecoderBias = "cls.predictions.decoder.bias";
const std::string kPredictionBias = "cls.predictions.bias";

json expected_folders() {
  return json::parse(testing::read_file(data_path("io/bin/expected.json")));
}

c10::ScalarType dtype_named(const std::string& name) { return parse_torch_dtype(name); }

bool inside_mapping(const TorchBinFile& file, const at::Tensor& tensor) {
  const auto* begin = file.mapping()->data();
  const auto* p = static_cast<const std::uint8_t*>(tensor.storage().data_ptr().get());
  return p >= begin && p < begin + file.mapping()->size();
}

bool same_storage(const at::Tensor& a, const at::Tensor& b) {
  return a.storage().unsafeGetStorageImpl() == b.storage().unsafeGetStorageImpl();
}

// The safetensors reference drops tied duplicates; their values are those of the tensor they tie.
at::Tensor reference_value(const SafetensorsFile& reference, const std::string& name) {
  if (name == kDecoderWeight) return reference.tensor(kWordEmbeddings);
  if (name == kDecoderBias) return reference.tensor(kPredictionBias);
  return reference.tensor(name);
}

// Every tensor of `file` has the dtype and shape expected.json lists and the reference's values.
void expect_matches_fixture(const TorchBinFile& file, const json& expected_tensors) {
  const auto reference = SafetensorsFile::open(data_path("io/bin/safetensors/model.safetensors"));
  ASSERT_EQ(file.entries().size(), expected_tensors.size());
  for (const TorchBinEntry& entry : file.entries()) {
    SCOPED_TRACE(entry.name);
    ASSERT_TRUE(expected_tensors.contains(entry.name));
    const json& want = expected_tensors.at(entry.name);
    EXPECT_EQ(entry.dtype, dtype_named(want.at("dtype").get<std::string>()));
    EXPECT_EQ(entry.shape, want.at("shape").get<std::vector<std::int64_t>>());
    const at::Tensor tensor = file.tensor(entry.name);
    EXPECT_EQ(tensor.sizes(), c10::IntArrayRef(entry.shape));
    EXPECT_EQ(entry.nbytes(), static_cast<std::uint64_t>(tensor.nbytes()));
    EXPECT_TRUE(testing::tensors_equal(tensor, reference_value(reference, entry.name)));
  }
}

TEST(TorchBinRead, ZipCheckpointMatchesExpectedAndSafetensorsValues) {
  const auto file = TorchBinFile::open(data_path("io/bin/bin/pytorch_model.bin"));
  EXPECT_EQ(file.format(), TorchBinFormat::kZip);
  const json expected = expected_folders().at("bin").at("tensors").at("pytorch_model.bin");
  expect_matches_fixture(file, expected);
  // The pickle's insertion order (save_pretrained's state dict order), not sorted.
  EXPECT_EQ(file.entries().front().name, kWordEmbeddings);
  // torch aligns zip records to 64 bytes: every tensor aliases the mapping.
  for (const auto& entry : file.entries()) EXPECT_TRUE(inside_mapping(file, file.tensor(entry.name))) << entry.name;
  for (const auto& storage : file.storages()) EXPECT_EQ(file.storage_bytes(storage).size(), storage.nbytes);
}

TEST(TorchBinRead, ShardedCheckpointMatchesItsIndex) {
  const json index = json::parse(testing::read_file(data_path("io/bin/sharded_bin/pytorch_model.bin.index.json")));
  const json expected = expected_folders().at("sharded_bin").at("tensors");
  std::set<std::string> seen;
  for (const auto& [shard, tensors] : expected.items()) {
    SCOPED_TRACE(shard);
    const auto file = TorchBinFile::open(data_path("io/bin/sharded_bin/" + shard));
    expect_matches_fixture(file, tensors);
    for (const auto& entry : file.entries()) {
      EXPECT_EQ(index.at("weight_map").at(entry.name).get<std::string>(), shard);
      seen.insert(entry.name);
    }
  }
  EXPECT_EQ(seen.size(), index.at("weight_map").size());
}

TEST(TorchBinRead, LegacyCheckpointKeepsTiedWeightsShared) {
  const auto file = TorchBinFile::open(data_path("io/bin/legacy_bin/pytorch_model.bin"));
  EXPECT_EQ(file.format(), TorchBinFormat::kLegacy);
  const json expected = expected_folders().at("legacy_bin").at("tensors").at("pytorch_model.bin");
  expect_matches_fixture(file, expected);

  EXPECT_EQ(file.find(kDecoderWeight)->storage_key, file.find(kWordEmbeddings)->storage_key);
  EXPECT_EQ(file.find(kDecoderBias)->storage_key, file.find(kPredictionBias)->storage_key);
  EXPECT_EQ(file.storages().size(), file.entries().size() - 2);

  StateDict all = file.load_all();
  ASSERT_EQ(all.size(), file.entries().size());
  EXPECT_TRUE(same_storage(all[kDecoderWeight], all[kWordEmbeddings]));
  EXPECT_TRUE(same_storage(all[kDecoderBias], all[kPredictionBias]));
  EXPECT_FALSE(same_storage(all[kDecoderWeight], all[kPredictionBias]));
  // Writing through one tied tensor is visible through the other, as in Python.
  all[kWordEmbeddings].index_put_({0, 0}, 42.0f);
  EXPECT_EQ(all[kDecoderWeight][0][0].item<float>(), 42.0f);

  // tensor() alone shares too while both tensors are alive.
  const at::Tensor a = file.tensor(kWordEmbeddings);
  const at::Tensor b = file.tensor(kDecoderWeight);
  EXPECT_TRUE(same_storage(a, b));
}

TEST(TorchBinRead, ZipCheckpointOfSavePretrainedKeepsTiedDuplicates) {
  const auto file = TorchBinFile::open(data_path("io/bin/bin/pytorch_model.bin"));
  const StateDict all = file.load_all();
  EXPECT_TRUE(testing::tensors_equal(all[kDecoderWeight], all[kWordEmbeddings]));
  EXPECT_EQ(file.find(kDecoderWeight)->storage_key == file.find(kWordEmbeddings)->storage_key,
            same_storage(all[kDecoderWeight], all[kWordEmbeddings]));
}

TEST(TorchBinRead, BertCaikitRandomFromTransformers430) {
  const auto file = TorchBinFile::open(data_path("io/bin/bert-caikit-random/pytorch_model.bin"));
  EXPECT_EQ(file.format(), TorchBinFormat::kZip);
  ASSERT_EQ(file.entries().size(), 90u);
  std::int64_t parameters = 0;
  for (const auto& entry : file.entries()) parameters += entry.numel();
  EXPECT_EQ(parameters, 88507);

  const TorchBinEntry* ids = file.find("bert.embeddings.position_ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, c10::ScalarType::Long);
  EXPECT_EQ(ids->shape, (std::vector<std::int64_t>{1, 512}));
  EXPECT_TRUE(testing::tensors_equal(file.tensor(ids->name), at::arange(512, at::kLong).unsqueeze(0)));

  const at::Tensor words = file.tensor(kWordEmbeddings);
  EXPECT_EQ(words.sizes(), (c10::IntArrayRef{1124, 32}));
  EXPECT_NEAR(words.std().item<double>(), 0.02, 0.001);  // random init, initializer_range 0.02
  EXPECT_TRUE(testing::tensors_equal(file.tensor("bert.embeddings.LayerNorm.weight"), at::ones({32})));
  EXPECT_THROW(file.tensor("no.such.tensor"), KeyError);
}

TEST(TorchBinRead, TensorsReleaseTheirStorageWhenDropped) {
  const auto file = TorchBinFile::open(data_path("io/bin/legacy_bin/pytorch_model.bin"));
  const c10::StorageImpl* first = nullptr;
  {
    const at::Tensor a = file.tensor(kWordEmbeddings);
    first = a.storage().unsafeGetStorageImpl();
    EXPECT_EQ(file.tensor(kDecoderWeight).storage().unsafeGetStorageImpl(), first);
  }
  // The legacy file's storages are unaligned copies; once no tensor holds one it is freed and the
  // next call makes a new one with the same values.
  const at::Tensor again = file.tensor(kWordEmbeddings);
  EXPECT_TRUE(testing::tensors_equal(again, file.tensor(kDecoderWeight)));
}

// The tensors of scripts/make_torch_bin_fixtures.py, built the same way.
StateDict reference_state_dict() {
  StateDict sd;
  const at::Tensor w = at::arange(12, at::kFloat).reshape({3, 4}) / 8;
  sd.insert("w", w);
  sd.insert("w_t", w.t());
  sd.insert("row", w[1]);
  sd.insert("bf16", (at::arange(5, at::kFloat) - 2).to(at::kBFloat16) / 4);
  sd.insert("f16", (at::arange(4, at::kFloat) / 3).to(at::kHalf));
  sd.insert("f64", at::arange(3, at::kDouble) / 7);
  sd.insert("i64", at::tensor(std::vector<std::int64_t>{-(std::int64_t{1} << 40), -1, 0, std::int64_t{1} << 40}));
  sd.insert("i32", at::arange(-3, 3, at::kInt));
  sd.insert("i16", at::arange(-2, 2, at::kShort));
  sd.insert("i8", at::arange(-4, 4, at::kChar));
  sd.insert("u8", (at::arange(70000) % 251).to(at::kByte));
  sd.insert("flags", at::arange(6) % 3 == 0);
  sd.insert("scalar", at::scalar_tensor(7.5, at::kFloat));
  sd.insert("empty", at::zeros({0, 3}));
  return sd;
}

void expect_same_state_dict(const StateDict& actual, const StateDict& expected) {
  ASSERT_EQ(actual.keys(), expected.keys());
  for (const auto& item : expected) {
    SCOPED_TRACE(item.key());
    const at::Tensor& got = actual[item.key()];
    EXPECT_TRUE(testing::tensors_equal(got, item.value()));
    EXPECT_EQ(got.strides(), item.value().strides());
    EXPECT_EQ(got.storage_offset(), item.value().storage_offset());
    EXPECT_EQ(got.storage().nbytes(), item.value().storage().nbytes());
  }
}

TEST(TorchBinWrite, ByteIdenticalToTorchSave) {
  testing::TempDir dir;
  const auto path = dir / "state.bin";  // torch names the archive folder after the file
  save_torch_bin(reference_state_dict(), path);
  const std::string ours = testing::read_file(path);
  const std::string torch = testing::read_file(data_path("io/bin/torch_save/state.bin"));
  EXPECT_EQ(ours.size(), torch.size());
  EXPECT_TRUE(ours == torch) << "save_torch_bin output differs from torch.save's";
}

TEST(TorchBinWrite, RoundTripKeepsValuesLayoutAndSharing) {
  testing::TempDir dir;
  const StateDict sd = reference_state_dict();
  for (const auto zip64 : {Zip64Mode::kWhenNeeded, Zip64Mode::kAlways}) {
    const auto path = dir / "round_trip.bin";
    save_torch_bin(sd, path, {.zip64 = zip64});
    const auto file = TorchBinFile::open(path);
    EXPECT_EQ(file.entries().size(), sd.size());
    const StateDict back = file.load_all();
    expect_same_state_dict(back, sd);
    EXPECT_TRUE(same_storage(back["w"], back["w_t"]));
    EXPECT_TRUE(same_storage(back["w"], back["row"]));
    EXPECT_FALSE(same_storage(back["w"], back["f64"]));
    EXPECT_EQ(file.storages().size(), sd.size() - 2);
  }
}

TEST(TorchBinWrite, ReadsTorchWrittenReferenceFiles) {
  const StateDict sd = reference_state_dict();
  for (const char* name : {"state.bin", "state_legacy.bin", "state_protocol4.bin", "state_legacy_protocol4.bin"}) {
    SCOPED_TRACE(name);
    const auto file = TorchBinFile::open(data_path(std::string("io/bin/torch_save/") + name));
    const StateDict back = file.load_all();
    expect_same_state_dict(back, sd);
    EXPECT_TRUE(same_storage(back["w"], back["w_t"]));
    EXPECT_TRUE(same_storage(back["w"], back["row"]));
  }
}

TEST(TorchBinWrite, WholeStorageOfASliceIsWritten) {
  testing::TempDir dir;
  const at::Tensor big = at::arange(100, at::kFloat);
  StateDict sd;
  sd.insert("tail", big.slice(0, 90));  // a view of 10 elements of a 100-element storage
  save_torch_bin(sd, dir / "slice.bin");
  const auto file = TorchBinFile::open(dir / "slice.bin");
  ASSERT_EQ(file.storages().size(), 1u);
  EXPECT_EQ(file.storages()[0].nbytes, 400u);
  EXPECT_EQ(file.entries()[0].storage_offset, 90);
  EXPECT_TRUE(testing::tensors_equal(file.tensor("tail"), at::arange(90, 100, at::kFloat)));
}

TEST(TorchBinWrite, RefusesWhatTorchCannotSave) {
  testing::TempDir dir;
  const at::Tensor w = at::zeros({4});
  StateDict mixed;
  mixed.insert("f", w);
  mixed.insert("i", at::empty({0}, at::kInt).set_(w.storage(), 0, {4}, {1}));
  EXPECT_THROW(save_torch_bin(mixed, dir / "mixed.bin"), ValueError);
  EXPECT_FALSE(std::filesystem::exists(dir / "mixed.bin"));

  StateDict complex;
  complex.insert("c", at::zeros({2}, at::kComplexFloat));
  EXPECT_THROW(save_torch_bin(complex, dir / "complex.bin"), UnsupportedError);
  EXPECT_FALSE(std::filesystem::exists(dir / "complex.bin"));
}

// Rewrites a zip checkpoint's records under another top folder, with extra records, as torch 2.x
// writes them (`archive/`, `byteorder`, `.data/serialization_id`), optionally big-endian.
void rezip(const std::filesystem::path& from, const std::filesystem::path& to, const std::string& prefix,
           bool big_endian) {
  const std::string bytes = testing::read_file(from);
  const auto archive = ZipArchive::parse(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), from.string());
  const auto file = TorchBinFile::open(from);
  FileWriter out(to);
  ZipWriter zip(out);
  for (const ZipEntry& entry : archive.entries()) {
    const std::string name = prefix + entry.name.substr(entry.name.find('/'));
    auto content = archive.read(entry);
    std::vector<std::uint8_t> copy(content.begin(), content.end());
    if (big_endian) {
      for (const auto& storage : file.storages())
        if (entry.name == storage.record)
          for (std::size_t i = 0; i + 4 <= copy.size(); i += 4) std::reverse(copy.begin() + i, copy.begin() + i + 4);
    }
    zip.add(name, copy);
    if (name == prefix + "/version") zip.add(prefix + "/.data/serialization_id", "1234567890");
  }
  zip.add(prefix + "/byteorder", big_endian ? "big" : "little");
  zip.finish();
  out.close();
}

TEST(TorchBinRead, Torch2ArchiveLayoutAndBigEndian) {
  testing::TempDir dir;
  const auto original = data_path("io/bin/bin/pytorch_model.bin");
  const StateDict expected = TorchBinFile::open(original).load_all();
  for (const bool big : {false, true}) {
    SCOPED_TRACE(big ? "big-endian" : "little-endian");
    const auto path = dir / "archive.bin";
    rezip(original, path, "archive", big);
    const auto file = TorchBinFile::open(path);
    const StateDict back = file.load_all();
    ASSERT_EQ(back.keys(), expected.keys());
    for (const auto& item : expected) EXPECT_TRUE(testing::tensors_equal(back[item.key()], item.value())) << item.key();
  }
}

// --- Loading our files in real PyTorch -------------------------------------------------------

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torch() {
  const std::string command = std::string(kPython) + " -c 'import torch' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Loads each checkpoint with torch.load(weights_only=True) in one Python process (importing
// torch takes seconds) and describes every tensor as JSON: one list per checkpoint.
json load_in_pytorch(const testing::TempDir& dir, const std::vector<std::filesystem::path>& checkpoints) {
  const auto script = dir / "describe.py";
  testing::write_file(script, R"(
import json, sys, torch
result = []
for path in sys.argv[1:]:
    sd = torch.load(path, weights_only=True)
    result.append([{"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                    "stride": list(t.stride()), "offset": t.storage_offset(),
                    "storage": t.storage().data_ptr(), "storage_bytes": t.storage().nbytes(),
                    "values": t.double().flatten().tolist(), "type": type(sd).__name__}
                   for name, t in sd.items()])
print(json.dumps(result))
)");
  const auto output = dir / "described.json";
  std::string command = std::string(kPython) + " " + script.string();
  for (const auto& checkpoint : checkpoints) command += " " + checkpoint.string();
  command += " > " + output.string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string text = testing::read_file(output);
  if (status != 0) throw std::runtime_error("PyTorch could not load the checkpoints: " + text);
  return json::parse(text);
}

TEST(TorchBinWrite, LoadsInRealPyTorchWithWeightsOnly) {
  if (!python_has_torch()) GTEST_SKIP() << kPython << " has no torch (scripts/setup.sh installs python3-torch)";
  testing::TempDir dir;
  StateDict sd = reference_state_dict();
  sd.insert("tied", sd["w"]);  // the same tensor twice, as tied weights are
  const auto plain = dir / "pytorch_model.bin";
  const auto zip64 = dir / "zip64.bin";
  save_torch_bin(sd, plain);
  save_torch_bin(sd, zip64, {.zip64 = Zip64Mode::kAlways});  // torch's reader takes ZIP64 fields too
  const json loaded = load_in_pytorch(dir, {plain, zip64});
  ASSERT_EQ(loaded.size(), 2u);
  for (const json& described : loaded) {
    ASSERT_EQ(described.size(), sd.size());
    std::map<std::string, std::uint64_t> storage_of;
    for (std::size_t i = 0; i < described.size(); ++i) {
      const json& t = described[i];
      const std::string name = t.at("name");
      SCOPED_TRACE(name);
      const at::Tensor& want = sd[name];
      EXPECT_EQ(name, sd.keys()[i]);
      EXPECT_EQ(t.at("type"), "OrderedDict");
      EXPECT_EQ(t.at("dtype").get<std::string>(), torch_dtype_name(want.scalar_type()));
      EXPECT_EQ(t.at("shape").get<std::vector<std::int64_t>>(), want.sizes().vec());
      EXPECT_EQ(t.at("stride").get<std::vector<std::int64_t>>(), want.strides().vec());
      EXPECT_EQ(t.at("offset").get<std::int64_t>(), want.storage_offset());
      EXPECT_EQ(t.at("storage_bytes").get<std::uint64_t>(), want.storage().nbytes());
      const auto values = t.at("values").get<std::vector<double>>();
      const at::Tensor flat = want.to(at::kDouble).flatten().contiguous();
      ASSERT_EQ(values.size(), static_cast<std::size_t>(flat.numel()));
      const double* expected = flat.data_ptr<double>();
      for (std::size_t k = 0; k < values.size(); ++k) ASSERT_EQ(values[k], expected[k]) << k;
      storage_of[name] = t.at("storage").get<std::uint64_t>();
    }
    EXPECT_EQ(storage_of["w"], storage_of["w_t"]);
    EXPECT_EQ(storage_of["w"], storage_of["row"]);
    EXPECT_EQ(storage_of["w"], storage_of["tied"]);
    EXPECT_NE(storage_of["w"], storage_of["f64"]);
  }
}

// --- Files past 4 GiB (ZIP64 for real): slow and 9 GB of disk, so only with HFCPP_TEST_LARGE_FILES=1 ---

// Bytes of [data, data + size) resident in memory.
std::uint64_t resident_bytes(const std::uint8_t* data, std::size_t size) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> pages((size + page - 1) / page);
  if (::mincore(const_cast<std::uint8_t*>(data), size, pages.data()) != 0) return ~0ull;
  std::uint64_t resident = 0;
  for (unsigned char p : pages) resident += (p & 1) ? page : 0;
  return resident;
}

void evict_from_page_cache(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

TEST(TorchBinLarge, Zip64PastFourGiBBothWays) {
  if (std::getenv("HFCPP_TEST_LARGE_FILES") == nullptr) GTEST_SKIP() << "set HFCPP_TEST_LARGE_FILES=1";
  testing::TempDir dir;
  const std::int64_t n = (std::int64_t{1} << 32) + 4096 + 3;  // an entry past 4 GiB, unaligned size
  StateDict sd;
  sd.insert("small", at::arange(10, at::kFloat));
  at::Tensor big = at::zeros({n}, at::kByte);
  big.index_put_({0}, 7);
  big.index_put_({n - 1}, 9);
  sd.insert("big", big);
  sd.insert("after", at::arange(5, at::kLong));  // its record starts past 4 GiB
  const auto path = dir / "large.bin";
  save_torch_bin(sd, path);
  big = at::Tensor();
  sd = StateDict();

  evict_from_page_cache(path);
  const auto file = TorchBinFile::open(path);
  // Opening reads the pickle and the directory at the end, not the 4 GiB of tensor data.
  // (Page faults read around the pickle and the directory: read_ahead_kb, 8 MB here, each.)
  const std::uint64_t resident = resident_bytes(file.mapping()->data(), file.mapping()->size());
  EXPECT_LT(resident, std::uint64_t{64} << 20);
  std::cout << "resident after open: " << resident << " of " << file.mapping()->size() << " bytes\n";
  const at::Tensor back = file.tensor("big");
  EXPECT_TRUE(inside_mapping(file, back));
  EXPECT_EQ(back.numel(), n);
  EXPECT_EQ(back[0].item<std::uint8_t>(), 7);
  EXPECT_EQ(back[n - 1].item<std::uint8_t>(), 9);
  EXPECT_TRUE(testing::tensors_equal(file.tensor("after"), at::arange(5, at::kLong)));
  EXPECT_TRUE(testing::tensors_equal(file.tensor("small"), at::arange(10, at::kFloat)));

  if (!python_has_torch()) GTEST_SKIP() << kPython << " has no torch";
  // PyTorch reads ours, and we read one torch.save wrote.
  const auto theirs = dir / "theirs.bin";
  const auto script = dir / "large.py";
  testing::write_file(script, R"(
import sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
big = sd["big"]
assert big.numel() == )" + std::to_string(n) + R"( and big[0] == 7 and big[-1] == 9, "values"
assert torch.equal(sd["after"], torch.arange(5)), "after"
del sd, big
t = torch.zeros()" + std::to_string(n) + R"(, dtype=torch.uint8)
t[0] = 3
t[-1] = 4
torch.save({"big": t, "after": torch.arange(5)}, sys.argv[2])
)");
  const std::string command = std::string(kPython) + " " + script.string() + " " + path.string() + " " + theirs.string();
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto torch_file = TorchBinFile::open(theirs);
  const at::Tensor their_big = torch_file.tensor("big");
  EXPECT_EQ(their_big.numel(), n);
  EXPECT_EQ(their_big[0].item<std::uint8_t>(), 3);
  EXPECT_EQ(their_big[n - 1].item<std::uint8_t>(), 4);
  EXPECT_TRUE(testing::tensors_equal(torch_file.tensor("after"), at::arange(5, at::kLong)));
}

}  // namespace
}  // namespace hfcpp
