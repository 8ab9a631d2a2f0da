// Python string formatting for chat templates: printf-style `fmt % args` (and Jinja's
// |format filter) and str.format() with the format-spec mini-language for str, int and float.
#include <cmath>
#include <cstdio>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/pystr.h"
#include "core/error.h"

namespace helix::chat {

namespace {

std::string pad(const std::string& s, int64_t width, char align, const std::string& fill) {
  const auto len = static_cast<int64_t>(py::length(s));
  if (width <= len) return s;
  const int64_t n = width - len;
  int64_t left = 0;
  if (align == '>')
    left = n;
  else if (align == '^')
    left = n / 2;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < n - left; ++i) out += fill;
  return out;
}

std::string int_digits(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  while (v) {
    out.insert(out.begin(), digits[v % static_cast<uint64_t>(base)]);
    v /= static_cast<uint64_t>(base);
  }
  return out;
}

uint64_t magnitude(int64_t v) {
  return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
}

std::string c_float(double d, char type, int precision, bool alt) {
  char spec[16], buf[512];
  std::snprintf(spec, sizeof spec, "%%%s.%d%c", alt ? "#" : "", std::min(precision, 300), type);
  std::snprintf(buf, sizeof buf, spec, d);
  return buf;
}

// Numeric body (digits, no sign) for printf-style conversions.
std::string number_body(const Value& v, char conv, int precision, bool alt, bool& negative) {
  if (conv == 'd' || conv == 'i' || conv == 'u') {
    if (!v.is_number())
      throw Error(cat("%", conv, " format: a real number is required, not ", type_name(v)));
    const int64_t i = v.is_float() ? static_cast<int64_t>(std::trunc(v.f())) : v.i();
    negative = i < 0;
    return int_digits(magnitude(i), 10, false);
  }
  if (conv == 'x' || conv == 'X' || conv == 'o') {
    if (!v.is_integral())
      throw Error(cat("%", conv, " format: an integer is required, not ", type_name(v)));
    negative = v.i() < 0;
    std::string d = int_digits(magnitude(v.i()), conv == 'o' ? 8 : 16, conv == 'X');
    if (alt) d = (conv == 'o' ? "0o" : conv == 'x' ? "0x" : "0X") + d;
    return d;
  }
  if (!v.is_number()) throw Error(cat("must be real number, not ", type_name(v)));
  const double d = v.f();
  negative = std::signbit(d) && !std::isnan(d);
  return c_float(std::fabs(d), conv, precision, alt);
}

}  // namespace

std::string percent_format(const std::string& fmt, const Value& args) {
  std::vector<Value> pos;
  const bool mapping_like = args.is_dict() || args.is_list();
  if (args.is_tuple())
    pos = args.items();
  else
    pos.push_back(args);
  size_t next = 0;
  bool used_mapping = false;
  auto take = [&]() -> Value {
    if (next >= pos.size()) throw Error("not enough arguments for format string");
    return pos[next++];
  };
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    ++i;
    if (i >= fmt.size()) throw Error("incomplete format");
    std::optional<Value> keyed;
    if (fmt[i] == '(') {
      if (!args.is_dict()) throw Error("format requires a mapping");
      int depth = 1;
      const size_t k = ++i;
      while (i < fmt.size() && depth > 0) {
        if (fmt[i] == '(')
          ++depth;
        else if (fmt[i] == ')')
          --depth;
        ++i;
      }
      if (depth) throw Error("incomplete format key");
      const std::string key = fmt.substr(k, i - k - 1);
      const Value* v = args.dict().find(std::string_view(key));
      if (!v) throw Error(cat("'", key, "'"));
      keyed = *v;
      used_mapping = true;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos)
      flags.push_back(fmt[i++]);
    auto number = [&]() -> int64_t {
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        return to_index(take(), "* width");
      }
      int64_t n = 0;
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
        n = std::min<int64_t>(n * 10 + (fmt[i++] - '0'), 1 << 20);
      return n;
    };
    int64_t width = number();
    int64_t precision = -1;
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = number();
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) throw Error("incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    const Value v = keyed ? *keyed : take();
    bool left = flags.find('-') != std::string::npos;
    if (width < 0) {
      left = true;
      width = -width;
    }
    const bool alt = flags.find('#') != std::string::npos;
    std::string body;
    switch (conv) {
      case 's':
        body = to_str(v);
        break;
      case 'r':
      case 'a':
        body = repr(v);
        break;
      case 'c':
        if (v.is_integral()) {
          py::append_utf8(body, static_cast<char32_t>(v.i()));
        } else if (v.is_string() && py::length(v.s()) == 1) {
          body = v.s();
        } else {
          throw Error("%c requires int or char");
        }
        break;
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o':
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        bool neg = false;
        const bool is_float_conv = std::string("eEfFgG").find(conv) != std::string::npos;
        body = number_body(v, conv, precision < 0 ? 6 : static_cast<int>(precision), alt, neg);
        if (!is_float_conv && precision > static_cast<int64_t>(body.size()))
          body.insert(0, static_cast<size_t>(precision) - body.size(), '0');
        const std::string sign = neg                                    ? "-"
                                 : flags.find('+') != std::string::npos ? "+"
                                 : flags.find(' ') != std::string::npos ? " "
                                                                        : "";
        if (flags.find('0') != std::string::npos && !left &&
            width > static_cast<int64_t>(sign.size() + body.size()))
          body.insert(0, static_cast<size_t>(width) - sign.size() - body.size(), '0');
        body = sign + body;
        break;
      }
      default:
        throw Error(cat("unsupported format character '", conv, "' (0x",
                        int_digits(static_cast<unsigned char>(conv), 16, false), ") at index ", i));
    }
    if ((conv == 's' || conv == 'r' || conv == 'a') && precision >= 0) {
      const std::u32string u = py::decode(body);
      if (static_cast<int64_t>(u.size()) > precision)
        body = py::encode(u.substr(0, static_cast<size_t>(precision)));
    }
    check_repeat(width, 1);
    out += pad(body, width, left ? '<' : '>', " ");
    check_size_limit(out.size());
  }
  if (next < pos.size() && !used_mapping && !mapping_like)
    throw Error("not all arguments converted during string formatting");
  return out;
}

namespace {

// format(value, spec) for the common format-spec mini-language.
std::string format_spec(const Value& v, const std::string& spec) {
  if (spec.empty()) return to_str(v);
  const std::u32string u = py::decode(spec);
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (u.size() >= 2 && is_align(u[1])) {
    fill = py::encode(u.substr(0, 1));
    align = static_cast<char>(u[1]);
    i = 2;
  } else if (!u.empty() && is_align(u[0])) {
    align = static_cast<char>(u[0]);
    i = 1;
  }
  char sign = '-';
  if (i < u.size() && (u[i] == '+' || u[i] == '-' || u[i] == ' ')) sign = static_cast<char>(u[i++]);
  bool alt = false;
  if (i < u.size() && u[i] == '#') alt = true, ++i;
  if (i < u.size() && u[i] == '0') {
    if (!align) {
      fill = "0";
      align = '=';
    }
    ++i;
  }
  int64_t width = 0;
  while (i < u.size() && u[i] >= '0' && u[i] <= '9')
    width = std::min<int64_t>(width * 10 + (u[i++] - '0'), 1 << 20);
  char grouping = 0;
  if (i < u.size() && (u[i] == ',' || u[i] == '_')) grouping = static_cast<char>(u[i++]);
  int64_t precision = -1;
  if (i < u.size() && u[i] == '.') {
    ++i;
    precision = 0;
    while (i < u.size() && u[i] >= '0' && u[i] <= '9')
      precision = std::min<int64_t>(precision * 10 + (u[i++] - '0'), 300);
  }
  char type = 0;
  if (i < u.size()) type = static_cast<char>(u[i++]);
  if (i != u.size()) throw Error("Invalid format specifier");

  if (v.is_string() || (!v.is_number())) {
    if (!v.is_string())
      throw Error(cat("unsupported format string passed to ", type_name(v), ".__format__"));
    if (type && type != 's')
      throw Error(cat("Unknown format code '", type, "' for object of type 'str'"));
    std::string s = v.s();
    if (precision >= 0) s = py::encode(py::decode(s).substr(0, static_cast<size_t>(precision)));
    return pad(s, width, align ? align : '<', fill);
  }
  std::string body;
  bool neg = false;
  const bool as_int =
      v.is_integral() && (!type || std::string("bcdoxXn").find(type) != std::string::npos);
  if (as_int) {
    if (v.is_bool() && !type) return pad(to_str(v), width, align ? align : '<', fill);
    neg = v.i() < 0;
    const int base = type == 'b' ? 2 : type == 'o' ? 8 : (type == 'x' || type == 'X') ? 16 : 10;
    body = int_digits(magnitude(v.i()), base, type == 'X');
    if (grouping) {
      std::string g;
      const size_t every = base == 10 ? 3 : 4;
      for (size_t k = 0; k < body.size(); ++k) {
        if (k && (body.size() - k) % every == 0) g.push_back(grouping);
        g.push_back(body[k]);
      }
      body = g;
    }
    if (alt && base != 10)
      body.insert(0, base == 2 ? "0b" : base == 8 ? "0o" : type == 'X' ? "0X" : "0x");
  } else {
    if (!type && v.is_integral()) throw Error("Unknown format code");
    const double d = v.f();
    neg = std::signbit(d) && !std::isnan(d);
    const double m = std::fabs(d);
    if (!type) {
      body = precision < 0
                 ? py::float_repr(m)
                 : c_float(m, 'g', static_cast<int>(std::max<int64_t>(precision, 1)), alt);
    } else if (type == '%') {
      body = c_float(m * 100, 'f', static_cast<int>(precision < 0 ? 6 : precision), alt) + "%";
    } else if (std::string("eEfFgG").find(type) != std::string::npos) {
      body = c_float(m, type, static_cast<int>(precision < 0 ? 6 : precision), alt);
    } else {
      throw Error(cat("Unknown format code '", type, "' for object of type 'float'"));
    }
    if (grouping) {
      const size_t dot = body.find_first_not_of("0123456789");
      const std::string ip = body.substr(0, dot),
                        rest = dot == std::string::npos ? "" : body.substr(dot);
      std::string g;
      for (size_t k = 0; k < ip.size(); ++k) {
        if (k && (ip.size() - k) % 3 == 0) g.push_back(grouping);
        g.push_back(ip[k]);
      }
      body = g + rest;
    }
  }
  const std::string sgn = neg ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "";
  if (align == '=') {
    const auto len = static_cast<int64_t>(sgn.size() + py::length(body));
    std::string fillers;
    for (int64_t k = len; k < width; ++k) fillers += fill;
    return sgn + fillers + body;
  }
  return pad(sgn + body, width, align ? align : '>', fill);
}

}  // namespace

std::string brace_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      throw Error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i + 1);
    if (close == std::string::npos) throw Error("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    char conv = 0;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size()) throw Error("expected ':' after conversion specifier");
      conv = field[bang + 1];
      field = field.substr(0, bang);
    }
    size_t name_end = field.find_first_of(".[");
    const std::string name = field.substr(0, name_end);
    Value v;
    if (name.empty()) {
      if (used_manual)
        throw Error("cannot switch from manual field specification to automatic field numbering");
      used_auto = true;
      if (auto_index >= args.pos.size())
        throw Error(
            cat("Replacement index ", auto_index, " out of range for positional args tuple"));
      v = args.pos[auto_index++];
    } else if (name.find_first_not_of("0123456789") == std::string::npos) {
      if (used_auto)
        throw Error("cannot switch from automatic field numbering to manual field specification");
      used_manual = true;
      const size_t idx = std::stoul(name);
      if (idx >= args.pos.size())
        throw Error(cat("Replacement index ", idx, " out of range for positional args tuple"));
      v = args.pos[idx];
    } else {
      const Value* kv = args.kwarg(name);
      if (!kv) throw Error(cat("'", name, "'"));
      v = *kv;
    }
    while (name_end != std::string::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const size_t e = field.find_first_of(".[", name_end + 1);
        const std::string attr = field.substr(
            name_end + 1, e == std::string::npos ? std::string::npos : e - name_end - 1);
        if (!attr.empty() && attr[0] == '_')
          throw Error(cat("access to attribute '", attr, "' is unsafe."));
        v = Interpreter::getattr(v, attr);
        name_end = e;
      } else {
        const size_t e = field.find(']', name_end);
        if (e == std::string::npos) throw Error("Missing ']' in format string");
        const std::string key = field.substr(name_end + 1, e - name_end - 1);
        const bool digits =
            !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
        v = Interpreter::getitem(v, digits ? Value::integer(std::stoll(key)) : Value::string(key));
        name_end = e + 1;
      }
    }
    if (v.is_undefined()) fail_undefined(v);
    if (conv == 'r' || conv == 'a')
      v = Value::string(repr(v));
    else if (conv == 's')
      v = Value::string(to_str(v));
    else if (conv)
      throw Error(cat("Unknown conversion specifier ", conv));
    out += format_spec(v, spec);
    check_size_limit(out.size());
  }
  return out;
}

}  // namespace helix::chat
