// RoPE angles of a decoder (what serving and training share): for each token, cos of every pair
// (n_rot / 2 floats) then sin, with the file's frequency factors (rope_freqs.weight) and RoPE
// scaling (linear or YaRN, HParams::rope_scaling) applied, times the YaRN magnitude. Pair i of a
// token at position p turns by p * base^(-2i/n_rot) / freq_factors[i] before scaling.
#pragma once

#include <cstdint>

#include "model/hparams.h"

namespace helix::model {

// cs: n * n_rot floats. base and scale are the layer's (sliding-window layers may differ).
void rope_cos_sin(const HParams& hp, float base, float scale, const int64_t* pos, int64_t n, float* cs);
void rope_cos_sin(const HParams& hp, float base, float scale, const int32_t* pos, int64_t n, float* cs);

}  // namespace helix::model
