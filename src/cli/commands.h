// The subcommands of the `helix` program. Each lives in its own cmd_<name>.cpp and has the
// signature of main() (argv[0] is the subcommand name). Add a command: write the file, declare
// it here, add one line to the table in main.cpp.
#pragma once

#include <string>

namespace helix::cli {

int cmd_inspect(int argc, char** argv);
int cmd_tiny_model(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_sample(int argc, char** argv);
int cmd_dequant(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_embed(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_sft(int argc, char** argv);
int cmd_lora(int argc, char** argv);
int cmd_kb(int argc, char** argv);
int cmd_ask(int argc, char** argv);
// helix kb eval (cmd_kb_eval.cpp): argv as cmd_kb gets it. kb_subcommand: the first word that is
// not an option or an option's value ("" when none).
int cmd_kb_eval(int argc, char** argv);
std::string kb_subcommand(int argc, char** argv);
int cmd_flywheel(int argc, char** argv);
int cmd_plugin(int argc, char** argv);
int cmd_chatfile(int argc, char** argv);
int cmd_mcp(int argc, char** argv);
int cmd_rm(int argc, char** argv);

}  // namespace helix::cli
