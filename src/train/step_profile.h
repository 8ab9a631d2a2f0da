// CPU time of the parts of a training step, for finding what to make faster: HELIX_PROFILE=1 and
// the table goes to stderr when the TrainModel is destroyed. Process CPU time (all threads) is
// counted, not wall time, so that a busy machine does not distort the shares.
#pragma once

#include <cstdint>

namespace helix::train::stepprof {

enum Part : int { kEmbed, kNorm, kProjFwd, kLoraFwd, kAttnFwd, kActRope, kHead, kProjBwd, kLoraBwd, kAttnBwd, kParts };

bool enabled();
// From now on CPU time counts towards part p (kParts: towards nothing); the time since the
// previous call goes to the previous part. Called by the thread that drives the step.
void to(Part p);
void count_tokens(int64_t n);  // tokens of a forward + backward (for tokens per CPU-second)
void report();  // prints and resets (nothing when disabled or empty)

}  // namespace helix::train::stepprof
