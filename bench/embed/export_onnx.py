#!/usr/bin/env python3
"""Export a sentence-transformers BERT-style model's transformer to ONNX.

    bench/.venv/bin/python bench/embed/export_onnx.py --model MODEL_DIR --out minilm.onnx

Graph: inputs input_ids, attention_mask, token_type_ids (int64, [batch, seq])
-> output last_hidden_state (float32, [batch, seq, hidden]), both axes
dynamic. Pooling and normalization stay outside the graph (done by the
caller, like sentence-transformers does).

After exporting, the script checks the graph with onnxruntime on a few texts:
mean pooling + L2 normalization of the ONNX output must match
SentenceTransformer.encode (cosine > --min-cosine); use --no-verify to skip.
"""
import argparse
import os
import sys

VERIFY_TEXTS = [
    "Laboratory refrigerator",
    "Der Medikamentenkühlschrank HMFvh 4001 erfüllt die DIN 13277 und hält +2 °C bis +8 °C.",
    " ".join(["Centrifuges separate particles by density using relative centrifugal force."] * 40),  # > 256 tokens
]


def export(model_dir: str, out: str, opset: int) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    # Eager attention traces to plain MatMul/Softmax; SDPA mask helpers do not
    # always survive the TorchScript-based exporter.
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager")
    model.eval()
    model.config.return_dict = True

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    enc = tok(["a short sample", "a somewhat longer sample sentence for export"],
              padding=True, truncation=True, max_length=32, return_tensors="pt")
    args = (enc["input_ids"], enc["attention_mask"],
            enc.get("token_type_ids", torch.zeros_like(enc["input_ids"])))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dyn = {n: {0: "batch", 1: "sequence"} for n in names}
    dyn["last_hidden_state"] = {0: "batch", 1: "sequence"}

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            Wrapper(model), args, out,
            input_names=names, output_names=["last_hidden_state"],
            dynamic_axes=dyn, opset_version=opset, do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter; needs no onnxscript
        )
    import onnx
    m = onnx.load(out)
    onnx.checker.check_model(m)
    print(f"exported {out} (opset {opset}, {os.path.getsize(out) / 1e6:.1f} MB)")


def verify(model_dir: str, onnx_path: str, min_cos: float) -> bool:
    import numpy as np
    import onnxruntime as ort
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    st = SentenceTransformer(model_dir, device="cpu")
    ref = st.encode(VERIFY_TEXTS, batch_size=8, convert_to_numpy=True, show_progress_bar=False)

    tok = AutoTokenizer.from_pretrained(model_dir)
    enc = tok(VERIFY_TEXTS, padding=True, truncation=True, max_length=st.max_seq_length, return_tensors="np")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: enc[i.name].astype(np.int64) if i.name in enc else np.zeros_like(enc["input_ids"], dtype=np.int64)
             for i in sess.get_inputs()}
    (hidden,) = sess.run(["last_hidden_state"], feeds)
    mask = enc["attention_mask"][..., None].astype(np.float32)
    pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
    emb = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    ok = True
    for i, t in enumerate(VERIFY_TEXTS):
        cos = float(np.dot(emb[i], ref[i]) / (np.linalg.norm(emb[i]) * np.linalg.norm(ref[i])))
        maxdiff = float(np.abs(emb[i] - ref[i]).max())
        n = int(enc["attention_mask"][i].sum())
        print(f"text {i}: tokens {n:3d}  cosine {cos:.8f}  max|diff| {maxdiff:.2e}")
        ok &= cos > min_cos
    print("verify:", "OK" if ok else f"FAILED (cosine <= {min_cos})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="sentence-transformers model folder")
    ap.add_argument("--out", required=True, help="output .onnx file")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--min-cosine", type=float, default=0.9999)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    export(args.model, args.out, args.opset)
    if args.no_verify:
        return 0
    return 0 if verify(args.model, args.out, args.min_cosine) else 1


if __name__ == "__main__":
    sys.exit(main())
