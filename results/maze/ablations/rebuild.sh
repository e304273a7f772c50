#!/usr/bin/env bash
# The maze ablations' entries, defined once: `bash results/maze/ablations/rebuild.sh [OUT] [ENTRIES]`
# runs ENTRIES (default: every measured row; trained runs come from OUT's cache) into OUT
# (default runs/, as the main command; OUT is --out, so results/maze/ablations rewrites the
# committed report, and results/ alone would overwrite results/maze/quick). The report keeps
# another entry's rows only while its definition is unchanged, so define every row here.
set -euo pipefail
out=${1:-runs}
entries=${2:-cotrain_pooled,ambient_alpha,ambient,cotrain,ambient_ft,cotrain_ft,ambient_ft500,cotrain_ft500,ambient_ft_lr,cotrain_ft_lr,ambient_soft_t025,ambient_soft_t1,clean_flow,corrupt_flow,cotrain_flow,ambient_flow}
python -m ambient_bench.run --suite maze --preset quick --out "$out" --seeds 1 --baselines "$entries" \
  --set 'baselines.cotrain_pooled={baseline: cotrain, params: {alpha: null}}' \
  --set 'baselines.ambient_alpha={baseline: ambient, params: {sigma_min: 0.074, alpha: 0.1}, seeds: 3}' \
  --set 'baselines.ambient={grid: {sigma_min: [0.074]}, seeds: 3}' \
  --set 'baselines.cotrain={grid: {alpha: [0.019]}, seeds: 3}' \
  --set 'baselines.ambient_ft={baseline: ambient, params: {sigma_min: 0.074}, finetune_steps: 3000, seeds: 3}' \
  --set 'baselines.cotrain_ft={baseline: cotrain, params: {alpha: 0.019}, finetune_steps: 3000, seeds: 3}' \
  --set 'baselines.ambient_ft500={baseline: ambient, params: {sigma_min: 0.074}, finetune_steps: 500, seeds: 3}' \
  --set 'baselines.cotrain_ft500={baseline: cotrain, params: {alpha: 0.019}, finetune_steps: 500, seeds: 3}' \
  --set 'baselines.ambient_ft_lr={baseline: ambient, params: {sigma_min: 0.074}, finetune_steps: 3000, finetune_lr: 3.0e-5, seeds: 3}' \
  --set 'baselines.cotrain_ft_lr={baseline: cotrain, params: {alpha: 0.019}, finetune_steps: 3000, finetune_lr: 3.0e-5, seeds: 3}' \
  --set 'baselines.ambient_soft_t025={baseline: ambient_soft, params: {sigma_min: 0.074, temperature: 0.25}, seeds: 3}' \
  --set 'baselines.ambient_soft_t1={baseline: ambient_soft, params: {sigma_min: 0.074, temperature: 1.0}, seeds: 3}' \
  --set 'baselines.clean_flow={baseline: clean_only, suite_overrides: {policy: {generative: flow}}}' \
  --set 'baselines.corrupt_flow={baseline: corrupt_only, suite_overrides: {policy: {generative: flow}}}' \
  --set 'baselines.cotrain_flow={baseline: cotrain, params: {alpha: 0.019}, suite_overrides: {policy: {generative: flow}}, seeds: 3}' \
  --set 'baselines.ambient_flow={baseline: ambient, params: {sigma_min: 0.074}, suite_overrides: {policy: {generative: flow}}, seeds: 3}' \
  "${@:3}"
