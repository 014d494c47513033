#!/usr/bin/env bash
# The main job on a fresh machine: build Fundus, pull the default model,
# ingest the sample product catalogue and run example searches.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin fundus
fundus=target/release/fundus
# A private data directory unless the user chose one.
export FUNDUS_DATA="${FUNDUS_DATA:-$PWD/target/demo-data}"

$fundus models pull all-minilm-l6-v2
if $fundus collection info products >/dev/null 2>&1; then
  $fundus collection delete products
fi
$fundus ingest --collection products --input examples/products/corpus.jsonl
$fundus collection info products
for q in "Medikamentenkühlschrank nach DIN 13277" \
         "Which freezer reaches -86 °C and has a CO2 backup?" \
         "Wie taue ich den Gefrierschrank ab?"; do
  echo
  echo "=== $q"
  $fundus search --collection products -k 5 "$q"
done
echo
echo "=== the same search, every stage's score shown"
$fundus search --collection products -k 3 --explain "NMK 3910 Türdichtung"
echo
# Retrieval quality on the catalogue's 40 judged queries: dense alone, then
# the default hybrid (dense + BM25, German analyzer for a mostly German catalogue).
$fundus eval --dataset examples/products --k 1,5,10
$fundus eval --dataset examples/products --k 1,5,10 --pipeline hybrid --analyzer german
