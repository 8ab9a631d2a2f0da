// TrainModel's forward and backward (see model.h): block_forward / block_backward side by side.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "train/attention.h"
#include "train/model_internal.h"
#include "train/step_profile.h"

namespace helix::train {

using stepprof::kActRope, stepprof::kAttnBwd, stepprof::kAttnFwd, stepprof::kNorm, stepprof::to;

// Carves the arena for n_tok tokens: a counting pass, then the same calls again with pointers.
void TrainModel::plan(int64_t n_tok) {
  Acts& a = *acts_;
  if (a.n_tok == n_tok) return;
  const int64_t T = n_tok, E = hp_.n_embd, Q = hp_.n_embd_q(), KV = hp_.n_embd_kv(), F = hp_.n_ff;
  size_t used = 0;
  bool assign = false;
  auto carve = [&](float*& p, int64_t n) {
    p = assign ? a.mem.data() + used : nullptr;
    used += static_cast<size_t>((n + 15) / 16 * 16);  // 64-byte multiples
  };
  a.layers.assign(static_cast<size_t>(hp_.n_layer), {});
  // With checkpoint_activations only x_in is per layer; the rest is one set that every layer's
  // forward overwrites and the backward recomputes (layer 0 carves it, the others share it).
  const bool ckpt = opt_.checkpoint_activations;
  for (int pass = 0; pass < 2; ++pass) {
    used = 0;
    for (int64_t il = 0; il < hp_.n_layer; ++il) carve(a.layers[static_cast<size_t>(il)].x_in, E * T);
    for (int64_t il = 0; il < hp_.n_layer; ++il) {
      Acts::Layer& L = a.layers[static_cast<size_t>(il)];
      if (ckpt && il > 0) {
        float* x_in = L.x_in;
        L = a.layers[0];
        L.x_in = x_in;
        continue;
      }
      const Block& B = blocks_[static_cast<size_t>(il)];
      L.q_pre = L.k_pre = L.o = L.f = nullptr;
      if (qk_norm_) {
        carve(L.q_pre, Q * T);
        carve(L.k_pre, KV * T);
      }
      carve(L.q, Q * T);
      carve(L.k, KV * T);
      carve(L.v, KV * T);
      carve(L.att, Q * T);
      carve(L.lse, hp_.n_head * T);
      if (post_norms_) carve(L.o, E * T);
      carve(L.x_mid, E * T);
      carve(L.g, F * T);
      carve(L.u, F * T);
      if (post_norms_) carve(L.f, E * T);
      const auto lin = B.linears();
      for (size_t i = 0; i < lin.size(); ++i) {
        L.lora_u[i] = nullptr;
        if (lin[i]->lora_a) carve(L.lora_u[i], lin[i]->rank * T);
      }
    }
    carve(a.x_out, E * T);
    for (float** p : {&a.h, &a.tmp, &a.dres, &a.dtmp, &a.dh}) carve(*p, E * T);
    for (float** p : {&a.dq, &a.dq2, &a.datt}) carve(*p, Q * T);
    for (float** p : {&a.dk, &a.dk2, &a.dv}) carve(*p, KV * T);
    for (float** p : {&a.m, &a.dm, &a.dg, &a.du}) carve(*p, F * T);
    if (!assign) {
      a.mem.assign(used, 0.0f);
      assign = true;
    }
  }
  a.n_tok = n_tok;
}

LossSum TrainModel::forward_backward(const TrainBatch& b, float grad_scale) {
  arm_dropout(true);
  return run(b, grad_scale, true);
}
LossSum TrainModel::evaluate(const TrainBatch& b) {
  arm_dropout(false);
  return run(b, 0.0f, false);
}

LossSum TrainModel::forward_backward_weighted(const TrainBatch& b, const PositionWeights& weights) {
  HELIX_CHECK(opt_.mode == TrainMode::Lora, "per-position loss weights (DPO and mixed objectives) train LoRA adapters; ",
              "full fine-tuning is not supported for them");
  arm_dropout(true);
  std::vector<float> loss;
  return run(b, 1.0f, true, &loss, &weights);
}
LossSum TrainModel::evaluate_positions(const TrainBatch& b, std::vector<float>& loss) {
  arm_dropout(false);
  return run(b, 0.0f, false, &loss, nullptr);
}

LossSum TrainModel::run(const TrainBatch& b, float grad_scale, bool backward, std::vector<float>* pos_loss,
                        const PositionWeights* weights) {
  const int64_t T = b.size(), E = hp_.n_embd;
  prepare_head();
  LossSum loss;
  pass(b, backward, [&](const float* x, float* dx) {
    HeadParams hp;
    hp.w_out = &output_;
    hp.w_out_t = head_.wt.get();
    hp.w_out_grad = backward && output_p_ ? output_p_->grad.data() : nullptr;
    hp.norm_w = output_norm_->value.data();
    hp.norm_grad = backward && !output_norm_->grad.empty() ? output_norm_->grad.data() : nullptr;
    hp.eps = hp_.norm_eps;
    hp.softcap = hp_.final_logit_softcap;
    hp.chunk = opt_.head_chunk;
    hp.exact = opt_.exact_base;
    to(stepprof::kHead);
    if (pos_loss) pos_loss->assign(static_cast<size_t>(T), 0.0f);
    loss = lm_head_loss(hp, x, b.targets.data(), T, grad_scale, dx, pos_loss ? pos_loss->data() : nullptr);
    to(stepprof::kParts);
    if (!dx || !weights) return;
    // dx is linear in each position's dlogits: scale column t by w[t]
    std::vector<float> w(static_cast<size_t>(T), 0.0f);
    (*weights)(*pos_loss, w);
    for (int64_t t = 0; t < T; ++t) {
      float* col = dx + t * E;
      const float s = w[static_cast<size_t>(t)];
      for (int64_t e = 0; e < E; ++e) col[e] *= s;
    }
  });
  return loss;
}

void TrainModel::forward_hidden(const TrainBatch& b, const HiddenHead& head, bool backward) {
  arm_dropout(backward);
  pass(b, backward, head);
}

void TrainModel::pass(const TrainBatch& b, bool backward, const HiddenHead& head) {
  const int64_t T = b.size(), E = hp_.n_embd;
  HELIX_CHECK(T > 0, "empty training batch");
  HELIX_CHECK(b.targets.size() == b.tokens.size() && b.pos.size() == b.tokens.size() && b.start.size() == b.tokens.size(),
              "training batch arrays differ in length");
  plan(T);
  Acts& a = *acts_;
  a.lo.resize(static_cast<size_t>(T));
  a.lo_swa.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t lo = b.start[static_cast<size_t>(t)];
    a.lo[static_cast<size_t>(t)] = lo;
    // A sliding layer sees the n_swa most recent positions of the token's own sample.
    a.lo_swa[static_cast<size_t>(t)] = hp_.n_swa > 0 ? std::max(lo, static_cast<int32_t>(std::max<int64_t>(0, t - hp_.n_swa + 1))) : lo;
  }
  a.rope = rope_table(hp_, b.pos.data(), T, hp_.rope_base, hp_.rope_scale);
  if (hp_.n_swa > 0) a.rope_swa = rope_table(hp_, b.pos.data(), T, hp_.rope_base_swa, 1.0f);

  to(stepprof::kEmbed);
  embedding_forward(tok_embd_, b.tokens.data(), T, emb_scale_, a.layers[0].x_in);
  for (int il = 0; il < hp_.n_layer; ++il) block_forward(il, b, a);
  head(a.x_out, backward ? a.dres : nullptr);
  if (!backward) return;
  stepprof::count_tokens(T);
  for (int il = static_cast<int>(hp_.n_layer) - 1; il >= 0; --il) {
    // Checkpointed: the shared buffers hold the last layer's activations; recompute the others
    // from their saved input (the same code and dropout masks: the same values, bit for bit).
    if (opt_.checkpoint_activations && il + 1 < hp_.n_layer) block_forward(il, b, a);
    block_backward(il, b, a);
  }
  to(stepprof::kEmbed);
  if (tok_embd_p_) embedding_backward(a.dres, b.tokens.data(), T, E, emb_scale_, tok_embd_p_->grad.data());
  to(stepprof::kParts);
}

namespace {
float* grad_of(Param* p) { return p && !p->grad.empty() ? p->grad.data() : nullptr; }
}  // namespace

void TrainModel::block_forward(int il, const TrainBatch& b, Acts& a) {
  const Block& B = blocks_[static_cast<size_t>(il)];
  Acts::Layer& L = a.layers[static_cast<size_t>(il)];
  const int64_t T = b.size(), E = hp_.n_embd, hd = hp_.head_dim, nh = hp_.n_head, nkv = hp_.n_head_kv;
  const float eps = hp_.norm_eps;
  float* x_out = il + 1 < hp_.n_layer ? a.layers[static_cast<size_t>(il) + 1].x_in : a.x_out;
  // Attention: h = norm(x); q, k, v = projections (normed per head); RoPE; attend; project.
  to(kNorm);
  rmsnorm_forward(L.x_in, B.attn_norm->value.data(), a.h, T, E, eps);
  B.q.forward(a.h, T, qk_norm_ ? L.q_pre : L.q, L.lora_u[0]);
  B.k.forward(a.h, T, qk_norm_ ? L.k_pre : L.k, L.lora_u[1]);
  B.v.forward(a.h, T, L.v, L.lora_u[2]);
  if (qk_norm_) {
    to(kNorm);
    rmsnorm_forward(L.q_pre, B.q_norm->value.data(), L.q, T * nh, hd, eps);
    rmsnorm_forward(L.k_pre, B.k_norm->value.data(), L.k, T * nkv, hd, eps);
  }
  const bool swa = hp_.is_swa(il);
  const float* cs = swa ? a.rope_swa.data() : a.rope.data();
  to(kActRope);
  rope_apply(L.q, T, nh, hd, hp_.n_rot, hp_.rope_style, cs, false);
  rope_apply(L.k, T, nkv, hd, hp_.n_rot, hp_.rope_style, cs, false);
  const AttnShape as{T, nh, nkv, hd, hp_.attn_scale > 0 ? hp_.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd))};
  to(kAttnFwd);
  attention_forward(as, L.q, L.k, L.v, swa ? a.lo_swa.data() : a.lo.data(), L.att, L.lse);
  float* o = post_norms_ ? L.o : a.tmp;
  B.o.forward(L.att, T, o, L.lora_u[3]);
  to(kNorm);
  if (post_norms_) rmsnorm_forward(L.o, B.post_attn_norm->value.data(), a.tmp, T, E, eps);
  to(kActRope);
  std::copy_n(L.x_in, E * T, L.x_mid);
  add_inplace(L.x_mid, a.tmp, E * T);
  // Feed-forward: h = norm(x_mid); m = act(gate h) · (up h); f = down m.
  to(kNorm);
  rmsnorm_forward(L.x_mid, B.ffn_norm->value.data(), a.h, T, E, eps);
  B.gate.forward(a.h, T, L.g, L.lora_u[4]);
  B.up.forward(a.h, T, L.u, L.lora_u[5]);
  to(kActRope);
  gated_act_forward(act_, L.g, L.u, a.m, hp_.n_ff * T);
  float* f = post_norms_ ? L.f : a.tmp;
  B.down.forward(a.m, T, f, L.lora_u[6]);
  to(kNorm);
  if (post_norms_) rmsnorm_forward(L.f, B.post_ffn_norm->value.data(), a.tmp, T, E, eps);
  to(kActRope);
  std::copy_n(L.x_mid, E * T, x_out);
  add_inplace(x_out, a.tmp, E * T);
}

// On entry a.dres holds dloss/d(layer output); on exit dloss/d(layer input).
void TrainModel::block_backward(int il, const TrainBatch& b, Acts& a) {
  const Block& B = blocks_[static_cast<size_t>(il)];
  const Acts::Layer& L = a.layers[static_cast<size_t>(il)];
  const int64_t T = b.size(), E = hp_.n_embd, hd = hp_.head_dim, nh = hp_.n_head, nkv = hp_.n_head_kv;
  const float eps = hp_.norm_eps;
  // Feed-forward (x_out = x_mid + post_ffn_norm(down(m))).
  const float* df = a.dres;
  if (post_norms_) {
    to(kNorm);
    rmsnorm_backward(L.f, B.post_ffn_norm->value.data(), a.dres, a.dtmp, grad_of(B.post_ffn_norm), T, E, eps, false);
    df = a.dtmp;
  }
  to(kNorm);
  rmsnorm_forward(L.x_mid, B.ffn_norm->value.data(), a.h, T, E, eps);  // recomputed
  to(kActRope);
  gated_act_forward(act_, L.g, L.u, a.m, hp_.n_ff * T);                // recomputed
  B.down.backward(a.m, L.lora_u[6], df, T, a.dm, false);
  to(kActRope);
  gated_act_backward(act_, L.g, L.u, a.dm, a.dg, a.du, hp_.n_ff * T);
  B.gate.backward(a.h, L.lora_u[4], a.dg, T, a.dh, false);
  B.up.backward(a.h, L.lora_u[5], a.du, T, a.dh, true);
  to(kNorm);
  rmsnorm_backward(L.x_mid, B.ffn_norm->value.data(), a.dh, a.dres, grad_of(B.ffn_norm), T, E, eps, true);
  // Attention (x_mid = x_in + post_attn_norm(o(att))).
  const float* d_o = a.dres;
  if (post_norms_) {
    rmsnorm_backward(L.o, B.post_attn_norm->value.data(), a.dres, a.dtmp, grad_of(B.post_attn_norm), T, E, eps, false);
    d_o = a.dtmp;
  }
  B.o.backward(L.att, L.lora_u[3], d_o, T, a.datt, false);
  const bool swa = hp_.is_swa(il);
  const AttnShape as{T, nh, nkv, hd, hp_.attn_scale > 0 ? hp_.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd))};
  to(kAttnBwd);
  attention_backward(as, L.q, L.k, L.v, swa ? a.lo_swa.data() : a.lo.data(), L.att, L.lse, a.datt, a.dq, a.dk, a.dv);
  const float* cs = swa ? a.rope_swa.data() : a.rope.data();
  to(kActRope);
  rope_apply(a.dq, T, nh, hd, hp_.n_rot, hp_.rope_style, cs, true);
  rope_apply(a.dk, T, nkv, hd, hp_.n_rot, hp_.rope_style, cs, true);
  const float *dq = a.dq, *dk = a.dk;
  if (qk_norm_) {
    to(kNorm);
    rmsnorm_backward(L.q_pre, B.q_norm->value.data(), a.dq, a.dq2, grad_of(B.q_norm), T * nh, hd, eps, false);
    rmsnorm_backward(L.k_pre, B.k_norm->value.data(), a.dk, a.dk2, grad_of(B.k_norm), T * nkv, hd, eps, false);
    dq = a.dq2;
    dk = a.dk2;
  }
  to(kNorm);
  rmsnorm_forward(L.x_in, B.attn_norm->value.data(), a.h, T, E, eps);  // recomputed
  B.q.backward(a.h, L.lora_u[0], dq, T, a.dh, false);
  B.k.backward(a.h, L.lora_u[1], dk, T, a.dh, true);
  B.v.backward(a.h, L.lora_u[2], a.dv, T, a.dh, true);
  to(kNorm);
  rmsnorm_backward(L.x_in, B.attn_norm->value.data(), a.dh, a.dres, grad_of(B.attn_norm), T, E, eps, true);
}

}  // namespace helix::train
