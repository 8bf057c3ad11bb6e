#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "../../src/io/mapped_tensor.h"
#include "hfcpp/error.h"
#include "hfcpp/io/mapped_file.h"
#include "hfcpp/io/safetensors.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

const std::map<std::string, std::string> kFormatPt{{"format", "pt"}};

// Real files written by the Rust/Python safetensors package: load, save again, compare bytes.
class ByteIdentity : public ::testing::TestWithParam<std::string> {};

TEST_P(ByteIdentity, ResaveIsByteIdenticalToPython) {
  const auto source = data_path(GetParam());
  const NamedTensors tensors = load_safetensors(source);
  ASSERT_FALSE(tensors.empty());
  TempDir dir;
  save_safetensors(tensors, dir / "out.safetensors", kFormatPt);
  const std::string expected = read_file(source);
  const std::string actual = read_file(dir / "out.safetensors");
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(actual == expected);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ByteIdentity,
    ::testing::Values("io/tiny.safetensors", "io/safetensors/safetensors/model.safetensors",
                      "io/safetensors/bf16/model.safetensors",
                      "io/safetensors/variant_fp16/model.fp16.safetensors",
                      "io/safetensors/sharded_safetensors/model-00001-of-00005.safetensors",
                      "io/safetensors/sharded_safetensors/model-00003-of-00005.safetensors"));

TEST(Safetensors, DtypesAndShapesMatchWhatPythonRecorded) {
  const auto expected = nlohmann::json::parse(read_file(data_path("io/safetensors/expected.json")));
  for (const char* folder : {"safetensors", "bf16", "variant_fp16", "sharded_safetensors"}) {
    const auto& files = expected["folders"][folder]["tensors"];
    for (const auto& [file, tensors] : files.items()) {
      const auto st = SafetensorsFile::open(data_path(std::string("io/safetensors/") + folder + "/" + file));
      EXPECT_EQ(st.header().tensors.size(), tensors.size()) << file;
      for (const auto& [name, info] : tensors.items()) {
        const at::Tensor t = st.tensor(name);
        EXPECT_EQ(torch_dtype_name(t.scalar_type()), info["dtype"].get<std::string>()) << name;
        EXPECT_EQ(t.sizes().vec(), info["shape"].get<std::vector<int64_t>>()) << name;
      }
    }
  }
}

TEST(Safetensors, SameValuesInEveryFormat) {
  const auto full = SafetensorsFile::open(data_path("io/safetensors/safetensors/model.safetensors"));
  const auto bf16 = SafetensorsFile::open(data_path("io/safetensors/bf16/model.safetensors"));
  for (const auto& entry : full.header().tensors) {
    const at::Tensor f32 = full.tensor(entry.name);
    EXPECT_TRUE(testing::tensors_equal(bf16.tensor(entry.name), f32.to(at::kBFloat16))) << entry.name;
  }
  int found = 0;
  for (int shard = 1; shard <= 5; ++shard) {
    const std::string name =
        "io/safetensors/sharded_safetensors/model-0000" + std::to_string(shard) + "-of-00005.safetensors";
    const auto part = SafetensorsFile::open(data_path(name));
    for (const auto& entry : part.header().tensors) {
      EXPECT_TRUE(testing::tensors_equal(part.tensor(entry.name), full.tensor(entry.name)));
      ++found;
    }
  }
  EXPECT_EQ(found, static_cast<int>(full.header().tensors.size()));
}

TEST(Safetensors, TensorsAreZeroCopyViewsThatOutliveTheFileObject) {
  at::Tensor weight;
  const void* mapped = nullptr;
  {
    const auto file = SafetensorsFile::open(data_path("io/tiny.safetensors"));
    weight = file.tensor("transformer.wte.weight");
    mapped = file.mapping()->data();
  }
  const auto* p = static_cast<const std::uint8_t*>(weight.data_ptr());
  const auto* base = static_cast<const std::uint8_t*>(mapped);
  EXPECT_GE(p, base);
  EXPECT_LT(p, base + 53064);
  EXPECT_EQ(weight.sizes(), (std::vector<int64_t>{350, 20}));
  // Private mapping: writing is allowed and does not reach the file.
  const std::string before = read_file(data_path("io/tiny.safetensors"));
  weight.add_(1.0);
  EXPECT_EQ(read_file(data_path("io/tiny.safetensors")), before);
}

// Files of 2 MiB or more are mapped at a 2 MiB boundary, so the kernel can map 2 MiB page-cache
// folios with one entry each (hfcpp/io/mapped_file.h).
TEST(MappedFile, LargeFilesMapAtATwoMebibyteBoundary) {
  TempDir dir;
  const auto path = dir.path() / "big.bin";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 3; ++i) out << chunk;
    out << "end";
  }
  const auto mapped = MappedFile::open(path);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(mapped->data()) % (2u << 20), 0u);
  ASSERT_EQ(mapped->size(), (3u << 20) + 3);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(mapped->data()) + mapped->size() - 3, 3), "end");
  EXPECT_EQ(mapped->data()[12345], 'x');
}

// A loader that copied a tensor out of a mapped file drops the file's pages under it from the
// process: they leave the RSS, and the tensor still reads the file's bytes. Other tensors: no-op.
TEST(MappedFile, DroppedPagesLeaveTheRssAndReadBackFromTheFile) {
  const auto resident_mib = [] {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20);
  };
  TempDir dir;
  const auto path = dir.path() / "weights.bin";
  const at::Tensor values = at::arange(16 << 20, at::kInt);  // 64 MiB
  {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(values.data_ptr()), static_cast<std::streamsize>(values.nbytes()));
  }
  const auto mapped = MappedFile::open(path);
  const at::Tensor view = detail::tensor_over_mapping(mapped, 0, {16 << 20}, at::kInt);
  ASSERT_TRUE(at::equal(view, values));  // every page mapped now
  const double before = resident_mib();
  detail::drop_mapped_pages(view);
  EXPECT_GT(before - resident_mib(), 48.0);
  EXPECT_TRUE(at::equal(view, values));
  at::Tensor owned = values.clone();
  detail::drop_mapped_pages(owned);
  EXPECT_TRUE(at::equal(owned, values));
}

TEST(Safetensors, UnalignedFilesLoadByCopy) {
  // A header length of 4 + 8 = 12: the data starts at an offset that is not a multiple of 4.
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.resize(0);
  header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )";  // 55 bytes
  std::string file(8, '\0');
  file[0] = static_cast<char>(header.size());
  file += header;
  const float values[2] = {1.5f, -2.0f};
  file.append(reinterpret_cast<const char*>(values), sizeof values);
  TempDir dir;
  write_file(dir / "u.safetensors", file);
  const auto st = SafetensorsFile::open(dir / "u.safetensors");
  const at::Tensor a = st.tensor("a");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data_ptr()) % 4, 0u);
  EXPECT_FLOAT_EQ(a[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(a[1].item<float>(), -2.0f);
}

TEST(Safetensors, WriterOrdersByDtypeThenNameAndHandlesViews) {
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  NamedTensors tensors{{"z", base.t()},  // non-contiguous: written in row-major order of the view
                       {"b", at::tensor({1, 0}).to(at::kBool)},
                       {"a", at::arange(3, at::kLong)},
                       {"m", at::ones({2}, at::kBFloat16)}};
  TempDir dir;
  save_safetensors(tensors, dir / "x.safetensors");
  const auto st = SafetensorsFile::open(dir / "x.safetensors");
  std::vector<std::string> order;
  for (const auto& e : st.header().tensors) order.push_back(e.name);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "z", "m", "b"}));
  EXPECT_TRUE(st.header().metadata.empty());
  EXPECT_TRUE(testing::tensors_equal(st.tensor("z"), base.t().contiguous()));
  EXPECT_TRUE(testing::tensors_equal(st.tensor("b"), at::tensor({1, 0}).to(at::kBool)));
  const std::string raw = read_file(dir / "x.safetensors");
  EXPECT_EQ(raw.substr(8, 6), "{\"a\":{");
  EXPECT_EQ((raw.size() - 8 - 24 - 48 - 4 - 2) % 8, 0u);  // header padded to 8
}

TEST(Safetensors, EmptyAndMetadataOnlyFilesMatchTheRustTestVectors) {
  TempDir dir;
  save_safetensors({}, dir / "e.safetensors");
  EXPECT_EQ(read_file(dir / "e.safetensors"), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  save_safetensors({}, dir / "m.safetensors", std::map<std::string, std::string>{{"framework", "pt"}});
  EXPECT_EQ(read_file(dir / "m.safetensors"),
            std::string("\x28\0\0\0\0\0\0\0", 8) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
}

TEST(Safetensors, MissingTensorNamesTheFile) {
  const auto st = SafetensorsFile::open(data_path("io/tiny.safetensors"));
  try {
    st.tensor("lm_head.weight");
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.safetensors: no tensor named 'lm_head.weight'"), std::string::npos);
  }
}

}  // namespace
}  // namespace hfcpp
