// The calculator built-in: exact arithmetic on rationals (GMP's mpq_class), never on doubles, so
// 0.1 + 0.2 is exactly 0.3 and big integers keep every digit.
//
// Grammar: numbers (123, 4.56, 1.5e-3, 1/3 written as a division), + - * / and % (modulo with
// the sign of the divisor), ^ or ** (integer powers), parentheses, and the functions abs, floor,
// ceil, round (half away from zero), min, max, gcd, lcm, sqrt (exact results only).
#pragma once

#include <string>

#include "plugins/plugin.h"

namespace helix::plugins {

struct CalcResult {
  std::string value;     // exact: a decimal ("0.3", "-12") or a fraction ("1/3")
  bool terminating;      // the value is a finite decimal
  std::string fraction;  // numerator/denominator in lowest terms ("3/10"); integers "12"
  std::string approx;    // for non-terminating values: 40 significant digits, else == value
};

// Throws helix::Error with the position for syntax errors, division by zero, non-integer
// exponents and results too large to compute (more than a million bits).
CalcResult calculate(const std::string& expression);

}  // namespace helix::plugins
