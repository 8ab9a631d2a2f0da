// GGUF metadata values: construction, typed accessors that convert or throw on a mismatch, and
// the one-line text form that `helix inspect` prints.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"
#include "io/gguf.h"

namespace helix::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "UINT8";
    case ValueType::INT8: return "INT8";
    case ValueType::UINT16: return "UINT16";
    case ValueType::INT16: return "INT16";
    case ValueType::UINT32: return "UINT32";
    case ValueType::INT32: return "INT32";
    case ValueType::FLOAT32: return "FLOAT32";
    case ValueType::BOOL: return "BOOL";
    case ValueType::STRING: return "STRING";
    case ValueType::ARRAY: return "ARRAY";
    case ValueType::UINT64: return "UINT64";
    case ValueType::INT64: return "INT64";
    case ValueType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

namespace {

bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}
bool is_unsigned_type(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}

std::string format_double(double v, bool single) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, single ? "%.9g" : "%.17g", v);
  // Keep it recognizably a float.
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string quote_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

Value Value::scalar(ValueType t, uint64_t bits) {
  Value v;
  v.type_ = t;
  v.u_ = bits;
  return v;
}

Value Value::signed_scalar(ValueType t, int64_t x) {
  Value v;
  v.type_ = t;
  v.i_ = x;
  return v;
}

Value Value::f32(float x) {
  Value v;
  v.type_ = ValueType::FLOAT32;
  v.f_ = x;
  return v;
}

Value Value::f64(double x) {
  Value v;
  v.type_ = ValueType::FLOAT64;
  v.f_ = x;
  return v;
}

Value Value::boolean(bool b) { return scalar(ValueType::BOOL, b ? 1 : 0); }

Value Value::string(std::string s) {
  Value v;
  v.type_ = ValueType::STRING;
  v.s_ = std::move(s);
  return v;
}

Value Value::array(ValueType elem_type, std::vector<Value> elems) {
  for (size_t i = 0; i < elems.size(); ++i)
    HELIX_CHECK(elems[i].type() == elem_type, "array element ", i, " has type ",
                value_type_name(elems[i].type()), " but the array holds ", value_type_name(elem_type));
  Value v;
  v.type_ = ValueType::ARRAY;
  v.elem_type_ = elem_type;
  v.elems_ = std::move(elems);
  return v;
}

Value Value::string_array(std::vector<std::string> strs) {
  std::vector<Value> e;
  e.reserve(strs.size());
  for (auto& s : strs) e.push_back(string(std::move(s)));
  return array(ValueType::STRING, std::move(e));
}

Value Value::f32_array(const std::vector<float>& xs) {
  std::vector<Value> e;
  e.reserve(xs.size());
  for (float x : xs) e.push_back(f32(x));
  return array(ValueType::FLOAT32, std::move(e));
}

Value Value::i32_array(const std::vector<int32_t>& xs) {
  std::vector<Value> e;
  e.reserve(xs.size());
  for (int32_t x : xs) e.push_back(i32(x));
  return array(ValueType::INT32, std::move(e));
}

bool Value::is_integer() const { return is_signed_type(type_) || is_unsigned_type(type_); }

uint64_t Value::as_uint() const {
  if (is_unsigned_type(type_) || type_ == ValueType::BOOL) return u_;
  if (is_signed_type(type_)) {
    HELIX_CHECK(i_ >= 0, "metadata value ", i_, " is negative where a non-negative integer is expected");
    return static_cast<uint64_t>(i_);
  }
  throw Error(cat("metadata value of type ", value_type_name(type_), " is not an integer"));
}

int64_t Value::as_int() const {
  if (is_signed_type(type_)) return i_;
  if (is_unsigned_type(type_) || type_ == ValueType::BOOL) {
    HELIX_CHECK(u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "metadata value ", u_,
                " does not fit in a signed 64-bit integer");
    return static_cast<int64_t>(u_);
  }
  throw Error(cat("metadata value of type ", value_type_name(type_), " is not an integer"));
}

double Value::as_float() const {
  if (is_float()) return f_;
  if (is_signed_type(type_)) return static_cast<double>(i_);
  if (is_unsigned_type(type_)) return static_cast<double>(u_);
  throw Error(cat("metadata value of type ", value_type_name(type_), " is not a number"));
}

bool Value::as_bool() const {
  HELIX_CHECK(type_ == ValueType::BOOL, "metadata value of type ", value_type_name(type_), " is not a BOOL");
  return u_ != 0;
}

const std::string& Value::as_string() const {
  HELIX_CHECK(type_ == ValueType::STRING, "metadata value of type ", value_type_name(type_),
              " is not a STRING");
  return s_;
}

std::vector<std::string> Value::as_string_array() const {
  HELIX_CHECK(is_array() && elem_type_ == ValueType::STRING, "metadata value ",
              is_array() ? cat("[", value_type_name(elem_type_), "]") : value_type_name(type_),
              " is not an array of STRING");
  std::vector<std::string> out;
  out.reserve(elems_.size());
  for (const auto& e : elems_) out.push_back(e.s_);
  return out;
}

std::vector<float> Value::as_f32_array() const {
  HELIX_CHECK(is_array() && elem_type_ != ValueType::STRING && elem_type_ != ValueType::ARRAY &&
                  elem_type_ != ValueType::BOOL,
              "metadata value is not an array of numbers");
  std::vector<float> out;
  out.reserve(elems_.size());
  for (const auto& e : elems_) out.push_back(static_cast<float>(e.as_float()));
  return out;
}

std::vector<int64_t> Value::as_int_array() const {
  HELIX_CHECK(is_array() && (is_signed_type(elem_type_) || is_unsigned_type(elem_type_)),
              "metadata value is not an array of integers");
  std::vector<int64_t> out;
  out.reserve(elems_.size());
  for (const auto& e : elems_) out.push_back(e.as_int());
  return out;
}

std::string Value::to_string(size_t max_elems) const {
  switch (type_) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64: return std::to_string(u_);
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return std::to_string(i_);
    case ValueType::FLOAT32: return format_double(f_, true);
    case ValueType::FLOAT64: return format_double(f_, false);
    case ValueType::BOOL: return u_ ? "true" : "false";
    case ValueType::STRING: return quote_string(s_);
    case ValueType::ARRAY: {
      std::string out;
      const bool abbreviated = elems_.size() > max_elems;
      if (abbreviated) out = cat("[", elems_.size(), " x ", value_type_name(elem_type_), "] ");
      out += "[";
      const size_t n = abbreviated ? max_elems : elems_.size();
      for (size_t i = 0; i < n; ++i) {
        if (i) out += ", ";
        out += elems_[i].to_string(max_elems);
      }
      if (abbreviated) out += n ? ", ...]" : "...]";
      else out += "]";
      return out;
    }
  }
  return "?";
}

}  // namespace helix::gguf
