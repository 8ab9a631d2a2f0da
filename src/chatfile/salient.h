// Extract, then abstract: before a small model reads a chunk, the chunk is cut down to its most
// informative sentences (kept in document order). Small models copy and ramble; given the
// sentences that carry figures, names, dates, decisions and assignments, what they copy is what
// matters. A sentence scores by its numbers, capitalised names, dates and cue words (decided,
// approved, responsible, 决定, 负责, 之前完成, ...), and loses its score when it repeats an
// earlier sentence (boilerplate and filler talk).
#pragma once

#include <string>
#include <string_view>

namespace helix::chatfile {

// How much a sentence is worth keeping (0 for filler).
double salience(std::string_view sentence);
// The text cut to its best sentences, at most `budget` estimated tokens, in their original order
// (lines of a transcript count as sentences). Texts within the budget come back unchanged.
std::string compress(const std::string& text, size_t budget);

}  // namespace helix::chatfile
