"""Derives expected Llama (TinyLLama-v0) token ids for a few sentences, by the textbook
SentencePiece-BPE procedure written independently of hfcpp (no HF library is available here):

  1. normalize: prepend "▁", replace " " with "▁";
  2. split into characters; a character missing from the vocab becomes its UTF-8 bytes <0xXX>;
  3. repeatedly merge the adjacent pair with the lowest merge rank (all occurrences, left to right);
  4. prepend <s> (id 1) as the TemplateProcessing post-processor does.

Run: python3 derive_expected.py  (prints JSON used in tests/tokenizers/test_llama.cpp)
"""
import json, os

here = os.path.dirname(os.path.abspath(__file__))
model = json.load(open(os.path.join(here, "tokenizer.json"), encoding="utf-8"))["model"]
vocab = model["vocab"]
ranks = {}
for i, m in enumerate(model["merges"]):
    pair = tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)
    ranks.setdefault(pair, i)


def encode(text):
    s = "\u2581" + text.replace(" ", "\u2581")
    symbols = []
    for ch in s:
        if ch in vocab:
            symbols.append(ch)
        else:
            symbols.extend("<0x%02X>" % b for b in ch.encode("utf-8"))
    while True:
        pairs = [(ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        pairs = [p for p in pairs if p[0] is not None]
        if not pairs:
            break
        best = min(pairs)[0]
        a_b = None
        out, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and ranks.get((symbols[i], symbols[i + 1])) == best:
                out.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out
    return [1] + [vocab[t] for t in symbols], symbols


sentences = ["Hello world", "Once upon a time, there was a little girl.", "naïve café 日本 🤗", "  two  spaces"]
print(json.dumps({s: dict(zip(("ids", "tokens"), encode(s))) for s in sentences}, ensure_ascii=False, indent=1))
