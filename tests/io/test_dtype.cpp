#include <gtest/gtest.h>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"

namespace hfcpp {
namespace {

TEST(ParseSize, DecimalUnitsAsHuggingfaceHubParsesThem) {
  // The table of shared/fixtures/*/formats/expected.json max_shard_size_parsing.
  EXPECT_EQ(parse_size("20KB"), 20000u);
  EXPECT_EQ(parse_size("20kb"), 20000u);
  EXPECT_EQ(parse_size("20kB"), 20000u);
  EXPECT_EQ(parse_size("20 KB"), 20000u);
  EXPECT_EQ(parse_size("0.02MB"), 20000u);
  EXPECT_EQ(parse_size("20000"), 20000u);
  EXPECT_EQ(parse_size("5GB"), 5000000000u);
  EXPECT_EQ(parse_size("500MB"), 500000000u);
  EXPECT_EQ(parse_size("1TB"), 1000000000000u);
}

TEST(ParseSize, BinaryUnitsThatPythonRejects) {
  EXPECT_EQ(parse_size("20KiB"), 20480u);
  EXPECT_EQ(parse_size("5GiB"), 5ull << 30);
  EXPECT_EQ(parse_size("1.5 MiB"), 1572864u);
}

TEST(ParseSize, RejectsGarbageWithTheText) {
  for (const char* bad : {"", "GB", "5XB", "-1GB", "five GB", "1e999GB", "nanGB"}) {
    try {
      parse_size(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(DTypes, SafetensorsNamesRoundTrip) {
  for (const char* name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                           "F8_E4M3", "F8_E5M2", "U16", "U32", "U64"}) {
    auto dtype = dtype_from_safetensors_name(name);
    ASSERT_TRUE(dtype) << name;
    EXPECT_EQ(safetensors_name(*dtype), name);
  }
  EXPECT_FALSE(dtype_from_safetensors_name("f32"));
  EXPECT_FALSE(dtype_from_safetensors_name("F128"));
}

TEST(DTypes, Fp8HasNoComputeTypeAndSaysSo) {
  EXPECT_FALSE(to_scalar_type(DType::F8_E4M3));
  EXPECT_EQ(element_size(DType::F8_E5M2), 1u);
  try {
    to_scalar_type_or_throw(DType::F8_E4M3, "tensor 'w' in x.safetensors");
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'w' in x.safetensors has dtype F8_E4M3"), std::string::npos);
  }
}

TEST(DTypes, TorchNames) {
  EXPECT_EQ(parse_torch_dtype("float32"), c10::ScalarType::Float);
  EXPECT_EQ(parse_torch_dtype("torch.bfloat16"), c10::ScalarType::BFloat16);
  EXPECT_EQ(parse_torch_dtype("half"), c10::ScalarType::Half);
  EXPECT_EQ(parse_torch_dtype("bf16"), c10::ScalarType::BFloat16);
  EXPECT_EQ(parse_torch_dtype("int64"), c10::ScalarType::Long);
  EXPECT_THROW(parse_torch_dtype("float8"), ValueError);
  EXPECT_EQ(torch_dtype_name(c10::ScalarType::BFloat16), "bfloat16");
  EXPECT_EQ(torch_dtype_name(c10::ScalarType::Float), "float32");
}

TEST(DTypes, ByteSizeAsTransformersCountsIt) {
  EXPECT_EQ(dtype_byte_size(c10::ScalarType::Bool), 0.125);
  EXPECT_EQ(dtype_byte_size(c10::ScalarType::Float), 4.0);
  EXPECT_EQ(dtype_byte_size(c10::ScalarType::BFloat16), 2.0);
  EXPECT_EQ(dtype_byte_size(c10::ScalarType::Long), 8.0);
}

TEST(DTypes, SafetensorsOrderIsAlignmentOrder) {
  EXPECT_LT(DType::BOOL, DType::U8);
  EXPECT_LT(DType::F16, DType::BF16);
  EXPECT_LT(DType::F32, DType::F64);
  EXPECT_LT(DType::F64, DType::I64);
}

}  // namespace
}  // namespace hfcpp
