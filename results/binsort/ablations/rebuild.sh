#!/usr/bin/env bash
# The bin-sorting ablations' entries, defined once: `bash results/binsort/ablations/rebuild.sh [OUT] [ENTRIES]`
# runs ENTRIES (default: every measured row; trained runs come from OUT's cache) into OUT
# (default runs/, as the main command; OUT is --out, so results/binsort/ablations rewrites the
# committed report, and results/ alone would overwrite results/binsort/quick). The report keeps
# another entry's rows only while its definition is unchanged, so define every row here.
set -euo pipefail
out=${1:-runs}
entries=${2:-clean_only,locality,locality_ft,locality_ft_lr,cotrain,cotrain_ft}
python -m ambient_bench.run --suite binsort --preset quick --out "$out" --seeds 1 --baselines "$entries" \
  --set 'baselines.locality={grid: {sigma_max: [0.462]}, seeds: 3}' \
  --set 'baselines.locality_ft={baseline: locality, params: {sigma_max: 0.462}, finetune_steps: 3000, seeds: 3}' \
  --set 'baselines.locality_ft_lr={baseline: locality, params: {sigma_max: 0.462}, finetune_steps: 3000, finetune_lr: 1.0e-4, seeds: 3}' \
  --set 'baselines.cotrain={grid: {alpha: [0.9]}, seeds: 3}' \
  --set 'baselines.cotrain_ft={baseline: cotrain, params: {alpha: 0.9}, finetune_steps: 3000, seeds: 3}' \
  "${@:3}"
