// GGUF reader/writer tests: round trips of every value type (nested arrays included) and tensor
// types, accessors, and hostile images that must each give a helix::Error with a telling message.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/gguf.h"
#include "io_test_util.h"

namespace helix::gguf {
namespace {

using helix::testing::Bytes;
using helix::testing::expect_error;
using helix::testing::TempDir;
using helix::testing::to_storage;

GGUFFile parse_bytes(const Bytes& b) { return GGUFFile::parse(to_storage(b.b), "test.gguf"); }

// A v3 header with the given counts.
Bytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Bytes b;
  b.raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  return b;
}

// One tensor info record.
void tensor_info(Bytes& b, const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
  b.str(name).u32(static_cast<uint32_t>(dims.size()));
  for (auto d : dims) b.u64(d);
  b.u32(type).u64(offset);
}

TEST(GGUF, RoundTripEveryValueType) {
  TempDir dir;
  GGUFWriter w;
  w.set("u8", Value::u8(255));
  w.set("i8", Value::i8(-128));
  w.set("u16", Value::u16(65535));
  w.set("i16", Value::i16(-32768));
  w.set("u32", Value::u32(4294967295u));
  w.set("i32", Value::i32(std::numeric_limits<int32_t>::min()));
  w.set("u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  w.set("i64", Value::i64(std::numeric_limits<int64_t>::min()));
  w.set("f32", Value::f32(1.5e-7f));
  w.set("f64", Value::f64(3.141592653589793));
  w.set("nan", Value::f32(std::numeric_limits<float>::quiet_NaN()));
  w.set("t", Value::boolean(true));
  w.set("f", Value::boolean(false));
  w.set("s", Value::string(std::string("h\xc3\xa9llo\0world\n", 13)));
  w.set("empty", Value::string(""));
  w.set("strs", Value::string_array({"<pad>", "", "\xe2\x96\x81the"}));
  w.set("f32s", Value::f32_array({1.0f, -2.5f, 1e30f}));
  w.set("i32s", Value::i32_array({-1, 0, 7}));
  w.set("u8s", Value::array(ValueType::UINT8, {Value::u8(1), Value::u8(2)}));
  w.set("i64s", Value::array(ValueType::INT64, {Value::i64(-5)}));
  w.set("f64s", Value::array(ValueType::FLOAT64, {Value::f64(0.1)}));
  w.set("bools", Value::array(ValueType::BOOL, {Value::boolean(true), Value::boolean(false)}));
  w.set("noelems", Value::array(ValueType::UINT32, {}));
  w.set("nested", Value::array(ValueType::ARRAY, {Value::i32_array({1, 2}), Value::i32_array({}),
                                                  Value::i32_array({3})}));
  w.set("nested_strs", Value::array(ValueType::ARRAY, {Value::string_array({"a", "b"})}));
  w.set("deep", Value::array(ValueType::ARRAY, {Value::array(ValueType::ARRAY, {Value::f32_array({4.0f})})}));
  w.set("u32", Value::u32(7));  // replaces in place
  w.write(dir / "all.gguf");
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))  // no temporary file (all.gguf.tmp.*) left
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  const auto f = GGUFFile::open(dir / "all.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  ASSERT_EQ(f.metadata().size(), 26u);
  EXPECT_EQ(f.metadata()[4].first, "u32");
  EXPECT_EQ(f.get("u8").type(), ValueType::UINT8);
  EXPECT_EQ(f.get("u8").as_uint(), 255u);
  EXPECT_EQ(f.get("i8").type(), ValueType::INT8);
  EXPECT_EQ(f.get("i8").as_int(), -128);
  EXPECT_EQ(f.get("u16").as_uint(), 65535u);
  EXPECT_EQ(f.get("i16").as_int(), -32768);
  EXPECT_EQ(f.get("u32").as_uint(), 7u);
  EXPECT_EQ(f.get("u32").type(), ValueType::UINT32);
  EXPECT_EQ(f.get("i32").as_int(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f.get("u64").as_uint(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f.get("i64").as_int(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.get("f32").type(), ValueType::FLOAT32);
  EXPECT_EQ(static_cast<float>(f.get("f32").as_float()), 1.5e-7f);
  EXPECT_EQ(f.get("f64").as_float(), 3.141592653589793);
  EXPECT_TRUE(std::isnan(f.get("nan").as_float()));
  EXPECT_TRUE(f.get_bool("t", false));
  EXPECT_FALSE(f.get_bool("f", true));
  EXPECT_EQ(f.get("s").as_string(), std::string("h\xc3\xa9llo\0world\n", 13));
  EXPECT_EQ(f.get_string("empty", "x"), "");
  EXPECT_EQ(f.get("strs").as_string_array(), (std::vector<std::string>{"<pad>", "", "\xe2\x96\x81the"}));
  EXPECT_EQ(f.get("f32s").as_f32_array(), (std::vector<float>{1.0f, -2.5f, 1e30f}));
  EXPECT_EQ(f.get("i32s").as_int_array(), (std::vector<int64_t>{-1, 0, 7}));
  EXPECT_EQ(f.get("i32s").elem_type(), ValueType::INT32);
  EXPECT_EQ(f.get("u8s").elem_type(), ValueType::UINT8);
  EXPECT_EQ(f.get("u8s").as_int_array(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(f.get("i64s").as_int_array(), (std::vector<int64_t>{-5}));
  EXPECT_EQ(f.get("f64s").elems()[0].as_float(), 0.1);
  EXPECT_TRUE(f.get("bools").elems()[0].as_bool());
  EXPECT_EQ(f.get("noelems").size(), 0u);
  EXPECT_EQ(f.get("noelems").elem_type(), ValueType::UINT32);
  const auto& nested = f.get("nested");
  ASSERT_EQ(nested.elem_type(), ValueType::ARRAY);
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested.elems()[0].as_int_array(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(nested.elems()[1].size(), 0u);
  EXPECT_EQ(nested.elems()[2].as_int_array(), (std::vector<int64_t>{3}));
  EXPECT_EQ(f.get("nested_strs").elems()[0].as_string_array(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.get("deep").elems()[0].elems()[0].as_f32_array(), (std::vector<float>{4.0f}));
  EXPECT_EQ(f.get("nested").to_string(), "[[1, 2], [], [3]]");
}

TEST(GGUF, RoundTripTensorsOfManyTypes) {
  TempDir dir;
  struct T {
    std::string name;
    DType type;
    Shape ne;
    int n_dims;
    std::vector<uint8_t> data;
  };
  std::vector<T> ts = {
      {"f32", DType::F32, {3, 5, 1, 1}, 2, {}},     {"f16", DType::F16, {7, 1, 1, 1}, 1, {}},
      {"bf16", DType::BF16, {4, 2, 3, 1}, 3, {}},   {"q4_0", DType::Q4_0, {64, 3, 1, 1}, 2, {}},
      {"q8_0", DType::Q8_0, {32, 2, 2, 2}, 4, {}},  {"q4_k", DType::Q4_K, {256, 2, 1, 1}, 2, {}},
      {"q6_k", DType::Q6_K, {512, 1, 1, 1}, 2, {}}, {"i32", DType::I32, {5, 1, 1, 1}, 1, {}},
      {"scalar", DType::F32, {1, 1, 1, 1}, 0, {}},
  };
  GGUFWriter w;
  w.set("general.architecture", Value::string("test"));
  w.set_alignment(64);
  uint32_t seed = 1;
  for (auto& t : ts) {
    const size_t n = dtype_row_bytes(t.type, t.ne[0]) * static_cast<size_t>(t.ne[1] * t.ne[2] * t.ne[3]);
    t.data = helix::testing::random_bytes(n, seed++);
    w.add_tensor(t.name, t.type, t.ne, t.n_dims, t.data.data());
  }
  w.write(dir / "t.gguf");
  const auto f = GGUFFile::open(dir / "t.gguf");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get_uint("general.alignment", 0), 64u);
  EXPECT_EQ(f.architecture(), "test");
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& info = f.tensors()[i];
    EXPECT_EQ(info.name, ts[i].name);
    EXPECT_EQ(info.type, ts[i].type);
    EXPECT_EQ(info.n_dims, ts[i].n_dims);
    EXPECT_EQ(info.ne, ts[i].ne);
    EXPECT_EQ(info.offset % 64, 0u);
    ASSERT_EQ(info.nbytes, ts[i].data.size());
    EXPECT_EQ(0, std::memcmp(f.tensor_data(info), ts[i].data.data(), info.nbytes)) << info.name;
    const Tensor t = f.tensor(info.name);
    EXPECT_EQ(t.dtype(), ts[i].type);
    EXPECT_EQ(t.ndim(), ts[i].n_dims);
    EXPECT_EQ(t.shape(), ts[i].ne);
    EXPECT_EQ(t.nbytes(), info.nbytes);
    EXPECT_EQ(t.data(), f.tensor_data(info));  // a view, not a copy
  }
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
  expect_error([&] { f.tensor("nope"); }, "no tensor named 'nope'");
}

TEST(GGUF, AccessorsConvertOrThrow) {
  TempDir dir;
  GGUFWriter w;
  w.set("name", Value::string("x"));
  w.set("neg", Value::i32(-3));
  w.set("n", Value::u16(9));
  w.write(dir / "a.gguf");
  const auto f = GGUFFile::open(dir / "a.gguf");
  EXPECT_EQ(f.get_uint("n", 0), 9u);
  EXPECT_EQ(f.get_float("n", 0), 9.0);
  EXPECT_EQ(f.get_uint("absent", 42), 42u);
  EXPECT_EQ(f.get_string("absent", "fb"), "fb");
  EXPECT_EQ(f.find("absent"), nullptr);
  expect_error([&] { f.get("absent"); }, "missing metadata key 'absent'");
  expect_error([&] { f.get_uint("name", 0); }, "'name'");
  expect_error([&] { f.get_uint("neg", 0); }, "negative");
  expect_error([&] { f.get_string("n", ""); }, "not a STRING");
  expect_error([&] { f.get_bool("n", false); }, "not a BOOL");
  EXPECT_EQ(f.get("neg").as_int(), -3);
}

TEST(GGUF, ToStringAbbreviatesLongArrays) {
  std::vector<std::string> toks;
  for (int i = 0; i < 100; ++i) toks.push_back(cat("t", i));
  const auto v = Value::string_array(toks);
  EXPECT_EQ(v.to_string(2), "[100 x STRING] [\"t0\", \"t1\", ...]");
  EXPECT_EQ(Value::string("a\"b\n").to_string(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Value::f32(1.0f).to_string(), "1.0");
  EXPECT_EQ(Value::boolean(true).to_string(), "true");
}

TEST(GGUF, WriterRejectsBadInput) {
  GGUFWriter w;
  const float x[32] = {};
  expect_error([&] { w.set_alignment(48); }, "power of two");
  expect_error([&] { w.add_tensor("q", DType::Q4_0, {33, 1, 1, 1}, 2, x); }, "block size");
  expect_error([&] { w.add_tensor("z", DType::F32, {0, 1, 1, 1}, 1, x); }, "positive");
  expect_error([&] { w.add_tensor("r", DType::F32, {1, 1, 1, 1}, 5, x); }, "dimensions");
  w.add_tensor("a", DType::F32, {4, 1, 1, 1}, 1, x);
  expect_error([&] { w.add_tensor("a", DType::F32, {4, 1, 1, 1}, 1, x); }, "added twice");
  expect_error([&] { Value::array(ValueType::INT32, {Value::u8(1)}); }, "element 0");
  expect_error([&] { w.write("/nonexistent-dir/x.gguf"); }, "(does the folder exist?)");
}

// ---- hostile input ----

TEST(GGUFHostile, BadMagic) {
  Bytes b;
  b.raw("GGML").u32(3).u64(0).u64(0);
  expect_error([&] { parse_bytes(b); }, "not a GGUF file");
  expect_error([&] { parse_bytes(Bytes{}); }, "not a GGUF file");
}

TEST(GGUFHostile, Versions) {
  expect_error([&] { parse_bytes(header(0, 0, 1)); }, "version 1 is not supported");
  expect_error([&] { parse_bytes(header(0, 0, 4)); }, "version 4 is not supported");
  expect_error([&] { parse_bytes(header(0, 0, 0x03000000u)); }, "big-endian");
  EXPECT_EQ(parse_bytes(header(0, 0, 2)).version(), 2u);
}

TEST(GGUFHostile, TruncatedAnywhere) {
  TempDir dir;
  GGUFWriter w;
  w.set("k", Value::string("value"));
  w.set("arr", Value::array(ValueType::ARRAY, {Value::i32_array({1, 2, 3})}));
  const std::vector<float> data(64, 1.0f);
  w.add_tensor("w", DType::F32, {8, 8, 1, 1}, 2, data.data());
  w.write(dir / "t.gguf");
  const auto full = helix::testing::read_file(dir / "t.gguf");
  for (size_t n = 0; n < full.size(); ++n) {
    try {
      GGUFFile::parse(to_storage(full, n), "cut.gguf");
      ADD_FAILURE() << "prefix of " << n << " bytes parsed";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("not a GGUF") != std::string::npos)
          << n << ": " << m;
    }
  }
  EXPECT_NO_THROW(GGUFFile::parse(to_storage(full), "full.gguf"));
}

TEST(GGUFHostile, CountsLargerThanFile) {
  expect_error([&] { parse_bytes(header(1ull << 60, 0)); }, "tensor count");
  expect_error([&] { parse_bytes(header(0, 1ull << 60)); }, "larger than the rest of the file");
  Bytes b = header(0, 1);
  b.str("arr").u32(9).u32(0).u64(~0ull);  // array of UINT8 with 2^64-1 elements
  expect_error([&] { parse_bytes(b); }, "array element count");
  Bytes s = header(0, 1);
  s.str("arr").u32(9).u32(8).u64(1000).zeros(100);  // strings need 8 bytes each
  expect_error([&] { parse_bytes(s); }, "larger than the rest of the file");
}

TEST(GGUFHostile, TooManyMetadataElements) {
  Bytes b = header(0, 1);
  b.str("big").u32(9).u32(0).u64(kMaxMetadataElements + 1).zeros(kMaxMetadataElements + 1);
  expect_error([&] { parse_bytes(b); }, "elements in all");
}

TEST(GGUFHostile, StringLengthPastEnd) {
  Bytes b = header(0, 1);
  b.str("k").u32(8).u64(1000).raw("short");
  expect_error([&] { parse_bytes(b); }, "claims a length of 1000");
  Bytes k = header(0, 1);
  k.u64(~0ull).raw("x").zeros(20);
  expect_error([&] { parse_bytes(k); }, "claims a length");
}

TEST(GGUFHostile, BadValueTypes) {
  Bytes b = header(0, 1);
  b.str("k").u32(13).u32(0);
  expect_error([&] { parse_bytes(b); }, "value type 13");
  Bytes a = header(0, 1);
  a.str("k").u32(9).u32(77).u64(0);
  expect_error([&] { parse_bytes(a); }, "element type 77");
  Bytes c = header(0, 1);
  c.str("k").u32(7).u8(2);
  expect_error([&] { parse_bytes(c); }, "not 0 or 1");
}

TEST(GGUFHostile, NestedArrayDepthLimit) {
  Bytes b = header(0, 1);
  b.str("k").u32(9);
  for (int i = 0; i < 1000; ++i) b.u32(9).u64(1);
  b.u32(0).u64(0);
  expect_error([&] { parse_bytes(b); }, "nested more than");
}

TEST(GGUFHostile, DuplicateKeys) {
  Bytes b = header(0, 2);
  b.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
  expect_error([&] { parse_bytes(b); }, "appears twice");
}

TEST(GGUFHostile, Alignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    Bytes b = header(0, 1);
    b.str("general.alignment").u32(4).u32(a);
    expect_error([&] { parse_bytes(b); }, "power of two");
  }
  Bytes s = header(0, 1);
  s.str("general.alignment").u32(8).str("32");
  expect_error([&] { parse_bytes(s); }, "not an integer");
  Bytes ok = header(0, 1);
  ok.str("general.alignment").u32(4).u32(16);
  EXPECT_EQ(parse_bytes(ok).alignment(), 16u);
}

// A file with one tensor info and `data` bytes of data.
Bytes one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data) {
  Bytes b = header(1, 0);
  tensor_info(b, "w", std::move(dims), type, offset);
  b.pad_to(32).zeros(data);
  return b;
}

TEST(GGUFHostile, TensorInfos) {
  EXPECT_NO_THROW(parse_bytes(one_tensor({4, 2}, 0, 0, 32)));
  expect_error([&] { parse_bytes(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32)); }, "5 dimensions");
  expect_error([&] { parse_bytes(one_tensor({4, 0}, 0, 0, 32)); }, "must be positive");
  expect_error([&] { parse_bytes(one_tensor({4, ~0ull}, 0, 0, 32)); }, "must be positive");
  expect_error([&] { parse_bytes(one_tensor({1ull << 40, 1ull << 40}, 0, 0, 32)); }, "overflows");
  expect_error([&] { parse_bytes(one_tensor({1ull << 62, 1}, 0, 0, 32)); }, "overflows 64 bits");
  expect_error([&] { parse_bytes(one_tensor({4}, 99, 0, 32)); }, "tensor type id 99");
  expect_error([&] { parse_bytes(one_tensor({4}, 4, 0, 32)); }, "tensor type id 4");
  expect_error([&] { parse_bytes(one_tensor({33}, 2, 0, 64)); }, "block size 32");
  expect_error([&] { parse_bytes(one_tensor({4, 2}, 0, 0, 31)); }, "runs past the end");
  expect_error([&] { parse_bytes(one_tensor({4, 2}, 0, 32, 32)); }, "runs past the end");
  expect_error([&] { parse_bytes(one_tensor({4, 2}, 0, ~0ull << 5, 32)); }, "runs past the end");
  expect_error([&] { parse_bytes(one_tensor({4, 2}, 0, 8, 64)); }, "not a multiple of the alignment");
  Bytes noData = header(1, 0);
  tensor_info(noData, "w", {4}, 0, 0);
  expect_error([&] { parse_bytes(noData); }, "truncated");
}

TEST(GGUFHostile, DuplicateTensorNames) {
  Bytes b = header(2, 0);
  tensor_info(b, "w", {4}, 0, 0);
  tensor_info(b, "w", {4}, 0, 32);
  b.pad_to(32).zeros(64);
  expect_error([&] { parse_bytes(b); }, "tensor name appears twice");
}

TEST(GGUFHostile, ErrorsNameTheFileAndTheKey) {
  Bytes b = header(0, 1);
  b.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(1).u64(99);
  try {
    GGUFFile::parse(to_storage(b.b), "model.gguf");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model.gguf"), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer.ggml.tokens"), std::string::npos) << m;
  }
}

TEST(GGUFHostile, RandomMutationsNeverCrash) {
  TempDir dir;
  GGUFWriter w;
  w.set("a", Value::string_array({"x", "yy", "zzz"}));
  w.set("b", Value::array(ValueType::ARRAY, {Value::f32_array({1, 2})}));
  const std::vector<uint8_t> data(18 * 4);
  w.add_tensor("q", DType::Q4_0, {64, 2, 1, 1}, 2, data.data());
  w.write(dir / "m.gguf");
  const auto full = helix::testing::read_file(dir / "m.gguf");
  std::mt19937 rng(7);
  for (int iter = 0; iter < 3000; ++iter) {
    auto m = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    try {
      const auto f = GGUFFile::parse(to_storage(m), "fuzz.gguf");
      for (const auto& kv : f.metadata()) (void)kv.second.to_string();
      for (const auto& t : f.tensors()) (void)f.tensor(t);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace helix::gguf
