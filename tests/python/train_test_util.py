"""Helpers shared by the training end-to-end tests (test_train_reference.py, test_dpo_recipe.py,
test_sft_recipe.py): a folder with a tiny llama model, and a run killed with SIGKILL mid-way."""
import re
import signal
import subprocess

from conftest import run_helix


def tiny_llama(helix_bin, tmp_path_factory, name):
    """A new temporary folder holding tiny.gguf (`helix tiny-model llama`): (folder, model path)."""
    d = tmp_path_factory.mktemp(name)
    model = d / "tiny.gguf"
    run_helix(helix_bin, "tiny-model", "llama", model)
    return d, model


def kill_9_when(cmd, pattern):
    """Runs cmd, reading its stderr until a line matches the regular expression `pattern`, and kills
    it there with SIGKILL (the hard stop a checkpoint must survive)."""
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if re.search(pattern, line):
            p.send_signal(signal.SIGKILL)
            break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL, "".join(seen)
