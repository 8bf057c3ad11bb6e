// Hand-made hostile safetensors files: each must give a FormatError that names the file and says
// what is wrong, never a crash or an out-of-bounds read.
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "test_support.h"

namespace hfcpp {
namespace {

std::string le64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string with_header(const std::string& json, const std::string& data) {
  return le64(json.size()) + json + data;
}

struct HostileCase {
  const char* name;
  std::string bytes;
  const char* message;  // expected part of the error
};

class HostileSafetensors : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileSafetensors, RejectedWithAClearError) {
  const HostileCase& c = GetParam();
  testing::TempDir dir;
  const auto path = dir / (std::string(c.name) + ".safetensors");
  testing::write_file(path, c.bytes);
  try {
    SafetensorsFile::open(path);
    FAIL() << "accepted " << c.name;
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find(c.message), std::string::npos) << what;
  }
}

const std::string k8(8, '\0');

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileSafetensors,
    ::testing::Values(
        HostileCase{"empty", "", "fewer than the 8-byte header length"},
        HostileCase{"truncated_length", std::string("\x10\0\0", 3), "fewer than the 8-byte"},
        HostileCase{"huge_header", le64(200'000'000) + "{}", "exceeds the 100 MB limit"},
        HostileCase{"header_past_end", le64(1000) + "{}", "runs past the end of the file"},
        HostileCase{"length_overflow", le64(~0ull) + "{}", "exceeds the 100 MB limit"},
        HostileCase{"not_object", with_header("[1,2]   ", ""), "does not start with '{'"},
        HostileCase{"bad_json", with_header("{\"a\":", ""), "not valid JSON"},
        HostileCase{"nul_padding", with_header(std::string("{}\0\0\0\0\0\0", 8), ""), "not valid JSON"},
        HostileCase{"duplicate_key",
                    with_header(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", "xx"),
                    "has the key 'a' twice"},
        HostileCase{"unknown_dtype",
                    with_header(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", std::string(16, 'x')),
                    "unknown dtype \"F128\""},
        HostileCase{"negative_dim",
                    with_header(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})", "x"),
                    "must be a non-negative integer"},
        HostileCase{"float_dim",
                    with_header(R"({"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", "x"),
                    "must be a non-negative integer"},
        HostileCase{"shape_overflow",
                    with_header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "xxxx"),
                    "overflows 64 bits"},
        HostileCase{"size_mismatch",
                    with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "xxxx"),
                    "needs 8 bytes but data_offsets [0,4] span 4"},
        HostileCase{"overlap",
                    with_header(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", "xxxxxx"),
                    "overlaps the previous tensor"},
        HostileCase{"gap",
                    with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", "xxxx"),
                    "a gap precedes it"},
        HostileCase{"offsets_past_end",
                    with_header(R"({"a":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}})", "xxxx"),
                    "truncated file"},
        HostileCase{"trailing_bytes",
                    with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xxxx"),
                    "trailing bytes"},
        HostileCase{"end_before_begin",
                    with_header(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}})", "xxxx"),
                    "end before begin"},
        HostileCase{"metadata_not_strings",
                    with_header(R"({"__metadata__":{"format":1}})", ""),
                    "__metadata__ entry 'format' must be a string"},
        HostileCase{"missing_offsets", with_header(R"({"a":{"dtype":"U8","shape":[1]}})", "x"),
                    "has no 'data_offsets'"},
        HostileCase{"deep_nesting", with_header("{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}", ""),
                    "nests deeper"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hfcpp
