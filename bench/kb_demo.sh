#!/bin/bash
# The demo of README "Knowledge bases": a knowledge base of tests/docs/data (PDF, DOCX, HTML, Markdown,
# text; two damaged files) and 12 questions asked with `helix ask` (4 Chinese, 8 English), each answer
# with its sources. Not a test: the answers are the model's; read them against the documents.
#   bench/kb_demo.sh [helix ask flags, e.g. --lora FILE] > demo.txt
set -euo pipefail
cd "$(dirname "$0")/.."
HELIX=${HELIX_BIN:-build/helix}
kb=$(mktemp -d)
trap 'rm -rf "$kb"' EXIT
"$HELIX" kb create demo --kb-dir "$kb" >/dev/null
"$HELIX" kb add demo tests/docs/data --kb-dir "$kb" >/dev/null 2>&1 || true  # the damaged files are reported and skipped
for q in "普洱茶产自哪里？" "乌龙茶主要产自哪里？" "冲泡绿茶的水温应该是多少？" "铁观音可以冲泡几次？" \
         "What pressure do road bike tyres need?" "What pressure do mountain bike tyres need?" \
         "How often should I lubricate the chain?" "How long should a telescope cool outside?" \
         "How often should tomatoes be watered?" "How hot should the water be for coffee?" \
         "How long does sourdough bake?" "How many hours of sunlight do tomatoes need?"; do
  echo "== $q"
  "$HELIX" ask --kb demo --kb-dir "$kb" "$q" "$@" 2>/dev/null
done
