// The cues of meeting minutes in a text, found by rules (Chinese and English): lines that state
// a decision, lines that assign a task (with the names and dates they mention), and topic titles
// ("议题：...", "next item: ...", headings). The minutes task hands these to the model as the only
// values its JSON may hold (enums in the grammar), so the minutes quote the meeting instead of
// inventing it, and keeps them when the model leaves one out.
#pragma once

#include <string>
#include <vector>

namespace helix::chatfile {

struct ActionCue {
  std::string task;                 // the line, without its timestamp and speaker
  std::vector<std::string> owners;  // names in the line (speakers of the meeting, capitalised names)
  std::vector<std::string> dates;   // date expressions in the line
};

struct MinutesCues {
  std::vector<std::string> topics;     // topic titles, in order
  std::vector<std::string> decisions;  // decision lines
  std::vector<ActionCue> actions;
  std::vector<std::string> speakers;   // "[time] NAME：" / "NAME:" line prefixes seen
};

MinutesCues find_minutes_cues(const std::string& text);

}  // namespace helix::chatfile
