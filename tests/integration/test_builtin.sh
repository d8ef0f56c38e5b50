#!/usr/bin/env bash
# test_builtin: client -> proxy -> worker with the built-in engine on a generated model: chat and
# completions, streamed and not; the usage the client sees is what the engine produced.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

MODEL="$WORK/tiny-qwen3.gguf"
"$COCOON" gen-model --out "$MODEL" --arch qwen3 --preset tiny --seed 5 >/dev/null || fail "gen-model"

start_proxy proxy
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
# `--model FILE.gguf` selects the built-in engine and names the model after general.name.
start w1 "$COCOON" worker --proxy "$PADDR" --model "$MODEL" --engine-threads 2 --engine-max-seqs 4 \
  --http-listen 127.0.0.1:0 --key-dir "$WORK/w1-keys" --ready-file "$WORK/w1.ready"
wait_ready "$WORK/w1.ready"
start_client client "$CADDR"
URL=$(ready_get "$WORK/client.ready" http_url)
WURL=$(ready_get "$WORK/w1.ready" http_url)
NAME="cocoon-test_qwen3_tiny"
CPIDS=()

models_ok() { curl -sf "$URL/v1/models" | grep -q "\"id\":\"$NAME\""; }
wait_until 20 models_ok || fail "model $NAME never listed by the client: $(curl -s "$URL/v1/models")"
pass "/v1/models lists the built-in model as $NAME"

# py EXPR: evaluates a Python expression over J (the JSON body) or S (the SSE events' JSON list).
py_json() { python3 -c "import json,sys; J=json.loads(sys.stdin.read()); print($1)"; }
py_sse() {
  python3 -c "
import json,sys
S=[]
for line in sys.stdin.read().split('\n'):
    if line.startswith('data: ') and line != 'data: [DONE]': S.append(json.loads(line[6:]))
print($1)"
}

# The reference: what `cocoon generate` produces greedily for the same prompt ids.
PROMPT_IDS="5,6,7,8,9,10"
"$COCOON" generate --model "$MODEL" --prompt-ids "$PROMPT_IDS" --max-tokens 24 --ids >"$WORK/ref.ids" \
  || fail "cocoon generate"
REF_N=$(grep -c . "$WORK/ref.ids")
[ "$REF_N" -ge 1 ] || fail "generate produced nothing"

BODY="{\"model\":\"$NAME\",\"prompt\":[$PROMPT_IDS],\"max_tokens\":24,\"temperature\":0}"
http POST "$URL/v1/completions" "$BODY"
[ "$HTTP_STATUS" = 200 ] || fail "completion: status $HTTP_STATUS $HTTP_BODY"
[ "$(echo "$HTTP_BODY" | py_json 'J["object"]')" = text_completion ] || fail "completion: $HTTP_BODY"
CT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["completion_tokens"]')
PT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["prompt_tokens"]')
FIN=$(echo "$HTTP_BODY" | py_json 'J["choices"][0]["finish_reason"]')
[ "$CT" = "$REF_N" ] || fail "completion: usage says $CT tokens, the engine generates $REF_N"
[ "$PT" = 6 ] || fail "completion: prompt_tokens $PT, expected 6"
if [ "$REF_N" = 24 ]; then [ "$FIN" = length ] || fail "finish $FIN"; else [ "$FIN" = stop ] || fail "finish $FIN"; fi
TEXT=$(echo "$HTTP_BODY" | py_json 'json.dumps(J["choices"][0]["text"])')
pass "completion (token-id prompt): $CT tokens = cocoon generate's, finish_reason $FIN"

SBODY="{\"model\":\"$NAME\",\"prompt\":[$PROMPT_IDS],\"max_tokens\":24,\"temperature\":0,\"stream\":true}"
http POST "$URL/v1/completions" "$SBODY"
[ "$HTTP_STATUS" = 200 ] || fail "stream completion: status $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q '^data: \[DONE\]' || fail "stream completion: no [DONE]: $HTTP_BODY"
SCT=$(echo "$HTTP_BODY" | py_sse '[e for e in S if e.get("usage")][-1]["usage"]["completion_tokens"]')
STEXT=$(echo "$HTTP_BODY" | py_sse 'json.dumps("".join(c["text"] for e in S for c in e["choices"]))')
SFIN=$(echo "$HTTP_BODY" | py_sse '[c["finish_reason"] for e in S for c in e["choices"] if c["finish_reason"]][-1]')
[ "$SCT" = "$REF_N" ] || fail "stream completion: usage $SCT, the engine generates $REF_N"
[ "$STEXT" = "$TEXT" ] || fail "stream completion: text $STEXT differs from $TEXT"
[ "$SFIN" = "$FIN" ] || fail "stream completion: finish $SFIN"
pass "streamed completion: same text, usage chunk with $SCT tokens"

# A text prompt: its tokens are the model tokenizer's (BOS as the model asks).
http POST "$URL/v1/completions" "{\"model\":\"$NAME\",\"prompt\":\"hello world\",\"max_tokens\":5,\"temperature\":0}"
[ "$HTTP_STATUS" = 200 ] || fail "text completion: $HTTP_STATUS $HTTP_BODY"
PT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["prompt_tokens"]')
WANT=$(printf 'hello world' | "$COCOON" tokenize --model "$MODEL" | grep -c .)
[ "$PT" = "$WANT" ] || fail "text completion: prompt_tokens $PT, tokenizer says $WANT"
pass "text prompt: prompt_tokens $PT = the tokenizer's count"

# Chat: the prompt is the ChatML rendering; streamed and not give the same text and usage.
CHAT="{\"model\":\"$NAME\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}],\"max_tokens\":20,\"temperature\":0"
http POST "$URL/v1/chat/completions" "$CHAT}"
[ "$HTTP_STATUS" = 200 ] || fail "chat: status $HTTP_STATUS $HTTP_BODY"
[ "$(echo "$HTTP_BODY" | py_json 'J["object"]')" = chat.completion ] || fail "chat: $HTTP_BODY"
CPT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["prompt_tokens"]')
CCT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["completion_tokens"]')
CTEXT=$(echo "$HTTP_BODY" | py_json 'json.dumps(J["choices"][0]["message"]["content"])')
[ "$(echo "$HTTP_BODY" | py_json 'J["choices"][0]["message"]["role"]')" = assistant ] || fail "chat role: $HTTP_BODY"
RENDERED=$(printf '<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n' | "$COCOON" tokenize --model "$MODEL" | grep -c .)
[ "$CPT" = "$RENDERED" ] || fail "chat: prompt_tokens $CPT, the rendered ChatML prompt has $RENDERED tokens"
GEN_CHAT=$("$COCOON" generate --model "$MODEL" --chat --prompt "hi there" --max-tokens 20 --ids | grep -c .)
[ "$CCT" = "$GEN_CHAT" ] || fail "chat: $CCT completion tokens, cocoon generate --chat gives $GEN_CHAT"
pass "chat: prompt_tokens $CPT = tokens of the ChatML rendering, $CCT completion tokens = cocoon generate --chat's"

http POST "$URL/v1/chat/completions" "$CHAT,\"stream\":true}"
[ "$HTTP_STATUS" = 200 ] || fail "stream chat: status $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q '^data: \[DONE\]' || fail "stream chat: no [DONE]"
[ "$(echo "$HTTP_BODY" | py_sse 'S[0]["choices"][0]["delta"]["role"]')" = assistant ] || fail "stream chat: first chunk $HTTP_BODY"
SCCT=$(echo "$HTTP_BODY" | py_sse '[e for e in S if e.get("usage")][-1]["usage"]["completion_tokens"]')
SCTEXT=$(echo "$HTTP_BODY" | py_sse 'json.dumps("".join(c["delta"].get("content","") for e in S for c in e["choices"]))')
[ "$SCCT" = "$CCT" ] || fail "stream chat: usage $SCCT vs $CCT"
[ "$SCTEXT" = "$CTEXT" ] || fail "stream chat: text $SCTEXT vs $CTEXT"
pass "streamed chat: same text and usage ($SCCT tokens)"

# Qwen3's thinking switch: enable_thinking=false appends an empty <think></think> block.
http POST "$URL/v1/chat/completions" "$CHAT,\"chat_template_kwargs\":{\"enable_thinking\":false}}"
[ "$HTTP_STATUS" = 200 ] || fail "no-think chat: $HTTP_STATUS $HTTP_BODY"
NPT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["prompt_tokens"]')
THINK=$(printf '<think>\n\n</think>\n\n' | "$COCOON" tokenize --model "$MODEL" | grep -c .)
[ "$NPT" = $((CPT + THINK)) ] || fail "enable_thinking=false: prompt_tokens $NPT, expected $CPT + $THINK"
pass "enable_thinking=false adds the empty think block ($THINK tokens)"

# n choices with sampling: usage adds them up.
http POST "$URL/v1/completions" "{\"model\":\"$NAME\",\"prompt\":\"abc\",\"max_tokens\":7,\"n\":3,\"temperature\":1.0,\"seed\":42}"
[ "$HTTP_STATUS" = 200 ] || fail "n=3: $HTTP_STATUS $HTTP_BODY"
NCH=$(echo "$HTTP_BODY" | py_json 'len(J["choices"])')
NCT=$(echo "$HTTP_BODY" | py_json 'J["usage"]["completion_tokens"]')
[ "$NCH" = 3 ] || fail "n=3: $NCH choices"
[ "$NCT" -ge 3 ] && [ "$NCT" -le 21 ] || fail "n=3: completion_tokens $NCT"
pass "n=3: three choices, $NCT completion tokens in all"

# A stop string cut from the greedy text: the answer ends right before it.
STOP=$(T="$TEXT" python3 -c "import json,os; t=json.loads(os.environ['T']); print(json.dumps(t[2:5]) if len(t)>=5 else '')")
if [ -n "$STOP" ] && [ "$STOP" != '""' ]; then
  http POST "$URL/v1/completions" "{\"model\":\"$NAME\",\"prompt\":[$PROMPT_IDS],\"max_tokens\":24,\"temperature\":0,\"stop\":[$STOP]}"
  [ "$HTTP_STATUS" = 200 ] || fail "stop: $HTTP_STATUS $HTTP_BODY"
  GOT=$(echo "$HTTP_BODY" | py_json 'json.dumps(J["choices"][0]["text"])')
  WANTP=$(T="$TEXT" S="$STOP" python3 -c "import json,os; t=json.loads(os.environ['T']); s=json.loads(os.environ['S']); print(json.dumps(t[:t.index(s)]))")
  [ "$GOT" = "$WANTP" ] || fail "stop: text $GOT, expected $WANTP"
  [ "$(echo "$HTTP_BODY" | py_json 'J["choices"][0]["finish_reason"]')" = stop ] || fail "stop: finish $HTTP_BODY"
  SCT2=$(echo "$HTTP_BODY" | py_json 'J["usage"]["completion_tokens"]')
  [ "$SCT2" -le "$CT" ] || fail "stop: $SCT2 tokens"
  pass "stop string $STOP ends the text before it (finish_reason stop, $SCT2 tokens)"
fi

# Concurrent streamed requests share forward passes (continuous batching) and each gets its own
# exact usage.
for i in 1 2 3 4; do
  curl -sS -N --max-time 60 -H 'Content-Type: application/json' -o "$WORK/conc.$i" \
    --data-binary "{\"model\":\"$NAME\",\"prompt\":\"story $i\",\"max_tokens\":300,\"stream\":true,\"seed\":$i}" \
    "$URL/v1/completions" &
  CPIDS+=($!)
done
for p in "${CPIDS[@]}"; do wait "$p" || fail "concurrent request failed"; done
for i in 1 2 3 4; do
  grep -q '^data: \[DONE\]' "$WORK/conc.$i" || fail "concurrent $i: $(head -c 300 "$WORK/conc.$i")"
  u=$(py_sse '[e for e in S if e.get("usage")][-1]["usage"]["completion_tokens"]' <"$WORK/conc.$i")
  [ "$u" -ge 1 ] && [ "$u" -le 300 ] || fail "concurrent $i: usage $u"
done
MB=$(curl -sf "$WURL/jsonstats" | py_json 'J["engine"]["max_batch_seqs"]')
[ "$MB" -ge 2 ] || fail "the engine never ran two sequences in one step (max $MB)"
pass "4 concurrent streamed requests, up to $MB sequences in one forward pass"

# Bad requests get a clear 400.
http POST "$URL/v1/chat/completions" "{\"model\":\"$NAME\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}"
[ "$HTTP_STATUS" = 400 ] || fail "bad role: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "role" || fail "bad role message: $HTTP_BODY"
pass "bad role gets 400: $(echo "$HTTP_BODY" | head -c 160)"
http POST "$URL/v1/completions" "{\"model\":\"$NAME\",\"prompt\":\"x\",\"max_tokens\":100000}"
[ "$HTTP_STATUS" = 400 ] || fail "too long: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "maximum context length" || fail "too long message: $HTTP_BODY"
pass "max_tokens beyond the context gets 400"

# The worker still serves after the refusals; logs carry no prompt or answer.
http POST "$URL/v1/completions" "{\"model\":\"$NAME\",\"prompt\":\"again\",\"max_tokens\":2}"
[ "$HTTP_STATUS" = 200 ] || fail "after errors: $HTTP_STATUS"
if grep -q -e "hi there" -e "hello world" "$WORK"/*.log; then fail "payload in logs"; fi
WJ=$(curl -sf "$WURL/jsonstats")
echo "$WJ" | grep -q '"tokens_completion_total":[1-9]' || fail "worker stats: $WJ"
pass "worker counts tokens; no payload in logs"
