"""The annotate stage: classifier-chosen sigma_min for the corrupt dataset of every suite
variant whose entries need it (``requires_annotation == "classifier"``), keyed by the
classifier's config so an unchanged config is not recomputed.
"""

from __future__ import annotations

from ..classifier.annotation import annotate_pair, is_annotated
from ..classifier.model import ClassifierConfig
from ..config.typed import from_dict
from ..data import atomic_write_json, load_dataset
from ..jobs.plan import Plan


def annotate_for_entries(plan: Plan) -> None:
    entries = [e for e in plan.entries if plan.needs_classifier(e)]
    if not entries:
        return
    config = from_dict(ClassifierConfig, plan.suite.classifier, "classifier")
    key = plan.classifier_key()
    done = set()
    for entry in entries:
        suite = plan.entry_suite(entry)
        by_source = {spec.source: name for name, spec in suite.datasets.items()}
        if set(by_source) != {"clean", "corrupt"} or len(suite.datasets) != 2:
            raise ValueError(f"{entry}: the classifier needs exactly one clean and one corrupt dataset")
        clean_dir = plan.dataset_dir(suite, by_source["clean"])
        corrupt_dir = plan.dataset_dir(suite, by_source["corrupt"])
        if corrupt_dir in done:
            continue
        done.add(corrupt_dir)
        corrupt = load_dataset(corrupt_dir)
        if is_annotated(corrupt, key):
            continue
        summary = annotate_pair(load_dataset(clean_dir), corrupt, suite.policy.horizon,
                                suite.policy.num_diffusion_steps, config, plan.annotate_dir, key)
        atomic_write_json(plan.annotate_dir / f"classifier-{corrupt_dir.name}.json", summary)
