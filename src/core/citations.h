// Citation markers in generated text: the one scanner behind knowledge's check_citations (helix
// ask, the server's "knowledge" field), ChatFile's cited answers and train's evaluation metrics.
//
//   auto m = helix::scan_citations("Water it [1][3] weekly [9].", [](int n) { return n <= 3; });
//   // m.text "Water it [1, 3] weekly.", m.kept {1, 3}, m.dropped {9}
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace helix {

// The citation markers of a text: [n], [n, m], [n][m], [n-m] and 【n】 (written back as [n, m]).
// Numbers that keep(n) rejects are removed from their marker, and a marker left empty goes with the
// spaces before it ("text [9]." -> "text.").
struct CitationMarks {
  std::string text;          // the text with the rejected numbers removed
  std::vector<int> kept;     // kept numbers, each once, in order of first use
  std::vector<int> dropped;  // rejected numbers, likewise
};
CitationMarks scan_citations(const std::string& text, const std::function<bool(int)>& keep);

// The text without any marker (scan_citations rejecting every number).
std::string strip_citations(const std::string& text);
// Every cited number, each once, in order of first use.
std::vector<int> cited_numbers(const std::string& text);

}  // namespace helix
