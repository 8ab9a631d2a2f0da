// align_citations (knowledge/grounding.h): a sentence whose words another passage clearly holds is
// re-cited to that passage; well-cited, short and unsupported sentences keep their markers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "knowledge/grounding.h"

namespace helix::knowledge {
namespace {

std::vector<Passage> passages(const std::vector<std::string>& texts) {
  std::vector<Passage> ps;
  for (size_t i = 0; i < texts.size(); ++i) {
    Passage p;
    p.n = static_cast<int>(i + 1);
    p.hit.text = texts[i];
    ps.push_back(p);
  }
  return ps;
}

const std::vector<Passage> kEn = passages({
    "WC(1) User Commands NAME wc - print newline, word, and byte counts for each file",
    "-c, --bytes print the byte counts\n\n-m, --chars print the character counts\n\n-l, --lines print the newline counts",
    "HEAD(1) User Commands NAME head - output the first part of files. Print the first 10 lines of each FILE.",
});

TEST(AlignCitations, MovesANeighboursCitationToThePassageThatHoldsTheSentence) {
  const AlignedCitations a = align_citations("In wc, -l, --lines means: print the newline counts [3].", kEn);
  EXPECT_EQ(a.answer, "In wc, -l, --lines means: print the newline counts [2].");
  ASSERT_EQ(a.moves.size(), 1u);
  EXPECT_EQ(a.moves[0].from, std::vector<int>{3});
  EXPECT_EQ(a.moves[0].to, 2);
  EXPECT_GE(a.moves[0].support, 0.6);
}

TEST(AlignCitations, KeepsGoodShortAndUnsupportedSentences) {
  for (const std::string s : {"wc prints newline, word, and byte counts for each file [1].", "No [2].",
                              "The moon is made of green cheese and old socks [1]."}) {
    const AlignedCitations a = align_citations(s, kEn);
    EXPECT_EQ(a.answer, s);
    EXPECT_TRUE(a.moves.empty()) << s;
  }
}

TEST(AlignCitations, EachSentenceOnItsOwnAndUncitedOnesGetACitation) {
  const AlignedCitations a = align_citations(
      "With -c, --bytes: print the byte counts [1]. The first 10 lines of each FILE are printed by head.", kEn);
  EXPECT_EQ(a.answer, "With -c, --bytes: print the byte counts [2]. The first 10 lines of each FILE are printed by head [3].");
  ASSERT_EQ(a.moves.size(), 2u);
  EXPECT_TRUE(a.moves[1].from.empty());
}

TEST(AlignCitations, Chinese) {
  const auto zh = passages({"-l, --no-log-init 不要将用户添加到最近登录和登录失败数据库。",
                            "-r, --system 创建一个系统账户。系统用户将在没有老化信息的情况下创建。",
                            "-U, --user-group 创建一个和用户同名的组，并将用户添加到组中。"});
  const AlignedCitations a = align_citations("-r, --system：创建一个系统账户 [1]。", zh);
  EXPECT_EQ(a.answer, "-r, --system：创建一个系统账户 [2]。");
  EXPECT_EQ(align_citations("-r, --system：创建一个系统账户 [2]。", zh).moves.size(), 0u);
}

}  // namespace
}  // namespace helix::knowledge
