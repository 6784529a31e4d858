#!/usr/bin/env bash
# GPU checks for a session lent one GPU, in one call of under 10 minutes:
#   1. the optimizer and training tests on CUDA;
#   2. one Penn Treebank epoch of each optimizer, timed alone;
#   3. the four at once (one process each), as make reproduce-ptb runs them on a GPU;
#   4. a table of wall times, training tokens/s and valid perplexity, printed last.
#
# Usage: scripts/gpu_check.sh [PTB_DIR]   (PYTHON picks the interpreter; OUT the output folder)
# The interpreter needs torch with CUDA and this package's dependencies (hydra-core, omegaconf,
# tensorboard, seqeval, datasets); PYTHONPATH=src works without installing the package.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PTB=${1:-${PTB_DIR:-data/ptb}}
OUT=${OUT:-outputs/gpu-check}
OPTIMIZERS=(sgd momentum adagrad adamomentum)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'

echo "== tests on CUDA"
ADAMOMENTUM_TEST_DEVICE=cuda timeout 180 "$PY" -m pytest -q -p no:cacheprovider \
    tests/test_optim.py tests/test_ptb_training.py tests/test_ner_training.py 2>&1 | tail -n 15

epoch() {  # epoch <optimizer> <run dir>
    "$PY" -m adamomentum.train task=ptb optimizer="$1" device=cuda trainer.epochs=1 data.data_dir="$PTB" \
        data.download=false progress=false checkpoint_interval=null hydra.run.dir="$2" >"$2.log" 2>&1
}

echo "== one epoch each, alone"
for opt in "${OPTIMIZERS[@]}"; do
    epoch "$opt" "$OUT/alone-$opt" || echo "alone-$opt failed: see $OUT/alone-$opt.log"
done

echo "== the four at once"
began=$(date +%s)
pids=()
for opt in "${OPTIMIZERS[@]}"; do
    epoch "$opt" "$OUT/together-$opt" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || echo "a concurrent run failed: see $OUT/together-*.log"; done
together=$(( $(date +%s) - began ))

"$PY" - "$OUT" "$together" <<'PY'
import json, sys
from pathlib import Path
out, together = Path(sys.argv[1]), float(sys.argv[2])
print(f"\n{'run':26s} {'wall s':>8s} {'train s':>8s} {'eval s':>8s} {'train tok/s':>12s} {'valid ppl':>10s}")
for path in sorted(out.glob("*/summary.json")):
    s = json.loads(path.read_text())
    tokens = s["steps"] * 20 * 20
    print(f"{path.parent.name:26s} {s['wall_time_s']:8.1f} {s['train_time_s']:8.1f} {s['eval_time_s']:8.1f} "
          f"{tokens / s['train_time_s']:12.0f} {s['final']['valid_ppl']:10.1f}")
print(f"the four at once: {together:.1f} s wall in all; 13 epochs of all four would take about {13 * together / 60:.1f} min")
PY
