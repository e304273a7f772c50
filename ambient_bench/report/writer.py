"""Writing a run's report: tables, figures, selection, config and provenance under its root.
"""

from __future__ import annotations

import json
import logging

from ..config.typed import to_dict
from ..data import atomic_write_bytes, atomic_write_json, dataset_sha256
from ..jobs.plan import Plan
from ..jobs.provenance import provenance
from .figures import (
    load_suite_datasets,
    plot_breakdown,
    plot_datasets,
    plot_pareto,
    plot_rollouts,
    plot_spectrum,
    render_scene,
)
from .tables import merge_previous, report_entries, summary_frame, table_markdown

log = logging.getLogger(__name__)


def write_report(plan: Plan, validation, test, chosen) -> None:
    """Write the report of this run's entries merged with the other entries' rows on disk."""
    root = plan.root
    summary = summary_frame(plan, {"validation": validation, "test": test}, chosen)
    selection = {entry: dict(point) for entry, point in chosen.items()}
    summary, selection = merge_previous(plan, summary, selection)
    # before any file is written (see provenance)
    recorded = provenance({p.name: dataset_sha256(json.loads((p / "meta.json").read_text()))
                           for p in sorted(plan.datasets(report_entries(plan, summary))) if (p / "meta.json").exists()})
    atomic_write_bytes(root / "summary.csv", summary.to_csv(index=False, na_rep="NaN").encode())
    atomic_write_bytes(root / "table.md", table_markdown(plan, summary).encode())
    plot_pareto(plan, summary, root / "pareto.png")
    plot_breakdown(plan, summary, root / "breakdown.png")
    plot_rollouts(plan, selection, root / "rollouts.png")
    datasets = load_suite_datasets(plan)
    plot_datasets(plan, datasets, root / "datasets.png")
    plot_spectrum(plan, datasets, selection, root / "spectrum.png")
    render_scene(plan, root / "scene.png")
    atomic_write_json(root / "selection.json", selection)
    atomic_write_json(root / "config.json", to_dict(plan.suite))
    atomic_write_json(root / "provenance.json", recorded)
    log.info("report written to %s", root)
