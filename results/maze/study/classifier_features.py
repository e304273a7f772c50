"""Study script (results/maze/STUDY.md): what does the sigma_min classifier tell clean from
corrupt chunks by?

The paper's rule assumes the classifier separates clean from corrupt chunks by their
high-frequency defects, which noise hides first. Any low-frequency difference between the
datasets (where in the world the chunks lie, how fast they move) stays visible to much
higher sigma and pushes sigma_min up. This trains the suite's classifier on the annotate
stage's chunks three ways and prints held-out accuracy and the per-dataset sigma_min:

  absolute   the chunks as the policy sees them (classifier.features: absolute);
  centred    each chunk minus its own mean position: location removed (features: centred);
  detrended  each chunk minus its least-squares line: location and mean velocity removed
             (features: detrended).

    python results/maze/study/classifier_features.py CLEAN_DATA_DIR CORRUPT_DATA_DIR \
        [--suite maze] [--preset quick] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ambient_bench.classifier.annotation import CHUNK_FEATURES, chunk_windows
from ambient_bench.classifier.model import ClassifierConfig
from ambient_bench.classifier.training import train_classifier
from ambient_bench.config.suites import load_suite
from ambient_bench.data import load_dataset
from ambient_bench.policy.normalizer import Normalizer
from ambient_bench.policy.schedule import NoiseSchedule


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clean_dir")
    p.add_argument("corrupt_dir")
    p.add_argument("--suite", default="maze", help="the suite whose classifier and horizon to use")
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    suite = load_suite(args.suite, args.preset, args.overrides)
    config = ClassifierConfig(**suite.classifier)
    clean, corrupt = load_dataset(args.clean_dir), load_dataset(args.corrupt_dir)
    normalizer = Normalizer.fit([clean.obs, corrupt.obs], [clean.action, corrupt.action])
    horizon = suite.policy.horizon
    clean_start, clean_chunks = chunk_windows(clean, horizon, horizon)
    corrupt_start, corrupt_chunks = chunk_windows(corrupt, horizon, horizon)
    schedule = NoiseSchedule(suite.policy.num_diffusion_steps)
    sigmas = schedule.sigmas.numpy()
    print(f"{len(clean_chunks)} clean / {len(corrupt_chunks)} corrupt chunks of {horizon} steps; "
          f"classifier {config.steps} steps; sigma grid {sigmas[0]:.3f}..{sigmas[-1]:.3f}")
    print("view       held-out acc  acc t=0  acc sigma~0.074  acc sigma~0.2  acc t=T/2  sigma_min (held-out)")
    t_074, t_2 = int(np.abs(sigmas - 0.074).argmin()), int(np.abs(sigmas - 0.2).argmin())
    for name, view in CHUNK_FEATURES.items():
        to_tensor = lambda a: torch.from_numpy(view(normalizer.normalize_action(a)).astype(np.float32))  # noqa: E731
        _, report = train_classifier(
            to_tensor(clean_chunks), to_tensor(corrupt_chunks), schedule, config,
            clean_groups=clean.step_episode[clean_start], corrupt_groups=corrupt.step_episode[corrupt_start])
        acc = report["accuracy_per_t"]
        print(f"{name:<10} {report['accuracy']:>12.3f}  {acc[0]:>7.3f}  {acc[t_074]:>15.3f}  {acc[t_2]:>13.3f}  "
              f"{acc[len(acc) // 2]:>9.3f}  {report['held_out_sigma_min']:>20.3f}")


if __name__ == "__main__":
    main()
