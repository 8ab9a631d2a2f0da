// LoRA products compiled for AVX2+FMA (model/lora_kernels.h); chosen at run time.
#include "model/lora_kernels.h"

namespace helix::model {

const LoraKernels& lora_kernels_avx2() {
  static const LoraKernels k{lora_a_impl, lora_b_impl};
  return k;
}

}  // namespace helix::model
