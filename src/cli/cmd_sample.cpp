// (For tests) helix sample: runs the sampling chain (runtime/sampler.h) on one row of logits read
// as JSON from stdin, so that tests/python/test_sampler_reference.py can check it against an
// independent implementation:
//   {"logits": [...], "history": [...], "draws": N, "params": {"temperature": .., "top_k": ..,
//    "top_p": .., "min_p": .., "repeat_penalty": .., "repeat_last_n": .., "presence_penalty": ..,
//    "frequency_penalty": .., "logit_bias": {"ID": BIAS}, "seed": ..}}
// prints {"candidates": [[id, p], ...] (the chain's survivors after the first draw, with their
// probabilities), "tokens": [the N tokens one seeded sampler draws in turn]}.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "runtime/sampler.h"

namespace helix::cli {

int cmd_sample(int argc, char** argv) {
  HELIX_CHECK(argc == 1, "usage: helix sample < REQUEST.json (see src/cli/cmd_sample.cpp)");
  (void)argv;
  const std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const nlohmann::json j = nlohmann::json::parse(in);
  std::vector<float> logits;
  for (const auto& v : j.at("logits"))
    logits.push_back(v.is_null() ? -std::numeric_limits<float>::infinity() : v.get<float>());
  const auto history = j.value("history", std::vector<int32_t>{});
  const nlohmann::json p = j.value("params", nlohmann::json::object());
  runtime::SamplingParams sp;
  sp.temperature = p.value("temperature", sp.temperature);
  sp.top_k = p.value("top_k", sp.top_k);
  sp.top_p = p.value("top_p", sp.top_p);
  sp.min_p = p.value("min_p", sp.min_p);
  sp.repeat_penalty = p.value("repeat_penalty", sp.repeat_penalty);
  sp.repeat_last_n = p.value("repeat_last_n", sp.repeat_last_n);
  sp.presence_penalty = p.value("presence_penalty", sp.presence_penalty);
  sp.frequency_penalty = p.value("frequency_penalty", sp.frequency_penalty);
  sp.seed = p.value("seed", sp.seed);
  if (p.contains("logit_bias"))
    for (const auto& [id, b] : p.at("logit_bias").items())
      sp.logit_bias[std::stoi(id)] = b.is_null() ? -std::numeric_limits<float>::infinity() : b.get<float>();
  runtime::Sampler s(sp);
  const int64_t draws = j.value("draws", int64_t{1});
  nlohmann::json out;
  out["tokens"] = nlohmann::json::array();
  for (int64_t i = 0; i < draws; ++i) {
    out["tokens"].push_back(s.sample(logits.data(), static_cast<int64_t>(logits.size()), history));
    if (i == 0) {
      out["candidates"] = nlohmann::json::array();
      for (const auto& c : s.last_candidates()) out["candidates"].push_back({c.id, c.p});
    }
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace helix::cli
