#!/usr/bin/env python3
"""Reference SPLADE vectors from transformers, for Fundus' SPLADE parity test.

    bench/.venv/bin/python scripts/reference/splade_reference.py \
        --model MODEL_DIR \
        --out crates/fundus-models/tests/fixtures/splade_reference.json

MODEL_DIR is the splade-tiny folder (`fundus models pull splade-tiny` puts it
in the model cache under models/splade-tiny). The vectors are computed the way
naver/splade and sentence-transformers' SparseEncoder (MLMTransformer +
SpladePooling "max", activation "relu") do:

    logits = BertForMaskedLM(input_ids, attention_mask).logits   # [batch, tokens, vocab]
    w      = max over tokens (log(1 + relu(logits)) * attention_mask)

i.e. every token under the attention mask counts, [CLS] and [SEP] included;
texts are truncated at the model's 512 positions. The output holds, per text,
all nonzero entries (term id, weight) sorted by term id, and the token count
after truncation (special tokens included).
"""
import argparse
import hashlib
import json
import os
import sys

# English and German, short and long; the last text is longer than 512
# tokens, so the fixture exercises truncation.
DEFAULT_TEXTS = [
    "What causes vitamin D deficiency?",
    "Vitamin D deficiency is associated with reduced bone mineral density in elderly women.",
    "The HMFvh 4001 pharmacy refrigerator keeps vaccines between +2 °C and +8 °C and complies with DIN 13277.",
    "Ein Laborkühlschrank mit Umluftkühlung hält die Innentemperatur auch bei häufigem Türöffnen gleichmäßig.",
    "Bitte lagern Sie Insulin nicht im Gefrierfach; die Temperatur muss zwischen 2 und 8 Grad Celsius liegen.",
    "Which centrifuge rotor fits 50 mL conical tubes at 4,000 rpm?",
    "The quick brown fox jumps over the lazy dog.",
    "Die Straße ist nass.",
    "Mutations in BRCA1 increase the lifetime risk of breast and ovarian cancer.",
    "",
    " ".join(
        [
            "Microglia are the resident immune cells of the central nervous system and respond to injury "
            "by changing their morphology, proliferating and releasing cytokines."
        ]
        * 30
    ),
]


def round_sig(x: float, sig: int) -> float:
    return float(f"{x:.{sig - 1}e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="BertForMaskedLM folder (splade-tiny)")
    ap.add_argument("--texts", help="JSON array of texts (default: the built-in list)")
    ap.add_argument("--out", required=True, help="output JSON file")
    ap.add_argument("--name", default="splade-tiny", help="model name recorded in the output")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--digits", type=int, default=7, help="significant digits kept per float")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(args.threads)

    if args.texts:
        with open(args.texts, encoding="utf-8") as f:
            texts = json.load(f)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            sys.exit("--texts must be a JSON array of strings")
    else:
        texts = DEFAULT_TEXTS

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForMaskedLM.from_pretrained(args.model, dtype=torch.float32)
    model.eval()

    vectors = []
    token_counts = []
    with torch.no_grad():
        for start in range(0, len(texts), args.batch_size):
            batch = texts[start : start + args.batch_size]
            enc = tokenizer(
                batch,
                max_length=args.max_length,
                padding=True,
                truncation=True,
                return_tensors="pt",
            )
            logits = model(**enc).logits
            mask = enc["attention_mask"].unsqueeze(-1).to(logits.dtype)
            weights = (torch.log1p(torch.relu(logits)) * mask).max(dim=1).values
            token_counts.extend(int(n) for n in enc["attention_mask"].sum(dim=1).tolist())
            for row in weights:
                idx = torch.nonzero(row > 0).flatten()
                vectors.append(
                    {
                        "indices": [int(i) for i in idx.tolist()],
                        "values": [round_sig(float(v), args.digits) for v in row[idx].tolist()],
                    }
                )

    weights = os.path.join(args.model, "model.safetensors")
    with open(weights, "rb") as f:
        weights_sha256 = hashlib.sha256(f.read()).hexdigest()

    out = {
        "model": args.name,
        "weights_sha256": weights_sha256,
        "formula": "max over masked tokens of log1p(relu(mlm_logits)), special tokens included",
        "max_length": args.max_length,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "texts": texts,
        "token_counts": token_counts,
        "vectors": vectors,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    nnz = [len(v["indices"]) for v in vectors]
    print(
        f"wrote {len(texts)} sparse vectors to {args.out} "
        f"(nonzeros per text {min(nnz)}..{max(nnz)}, token counts {token_counts})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
