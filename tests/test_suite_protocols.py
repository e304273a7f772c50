"""What a suite declares: its batched task (``task.BatchedTask``) and its optional report figures
(``task.SuiteFigures``), and that the report calls exactly those hooks."""

from __future__ import annotations

import inspect

import pytest

from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan
from ambient_bench.registry import FIGURES, TASKS
from ambient_bench.report import figures as report_figures
from ambient_bench.task import BatchedTask, SuiteFigures

HOOKS = ("render_scene", "plot_datasets", "plot_rollouts")


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_implements_the_task_protocol(name):
    task_cls = TASKS.get(name)
    for method in ("reset", "step", "records", "aggregate"):
        assert inspect.signature(getattr(task_cls, method)).parameters.keys() == \
            inspect.signature(getattr(BatchedTask, method)).parameters.keys(), method
    assert isinstance(inspect.getattr_static(task_cls, "done"), property)


@pytest.mark.parametrize("name", FIGURES.names())
def test_registered_figures_are_suite_figures_of_a_task(name):
    figures = FIGURES.get(name)
    assert name in TASKS.names()
    assert issubclass(figures, SuiteFigures)
    overridden = [h for h in HOOKS if getattr(figures, h) is not getattr(SuiteFigures, h)]
    assert overridden, f"{name} registers figures but overrides no hook"


def test_the_default_figures_draw_nothing(tmp_path):
    figures = SuiteFigures()
    assert not figures.render_scene({}, tmp_path / "scene.png", 0)
    assert not figures.plot_datasets({}, {}, tmp_path / "datasets.png")
    assert not figures.plot_rollouts({}, {}, tmp_path / "rollouts.png")
    assert list(tmp_path.iterdir()) == []


def test_the_report_calls_the_declared_hooks_with_the_suites_params(tmp_path, monkeypatch):
    calls = []

    class Recording(SuiteFigures):
        def render_scene(self, task_params, path, seed):
            calls.append(("render_scene", task_params, path.name))
            return False

        def plot_datasets(self, datasets, task_params, path):
            calls.append(("plot_datasets", task_params, path.name))
            return False

        def plot_rollouts(self, records_by_label, task_params, path):
            calls.append(("plot_rollouts", task_params, path.name))
            return False

    monkeypatch.setitem(FIGURES._items, "maze", Recording)
    plan = Plan(load_suite("maze", "smoke"), "smoke", tmp_path)
    report_figures.render_scene(plan, tmp_path / "scene.png")
    report_figures.plot_datasets(plan, {}, tmp_path / "datasets.png")
    report_figures.plot_rollouts(plan, {}, tmp_path / "rollouts.png")
    params = plan.suite.task_params
    assert calls == [("render_scene", params, "scene.png"), ("plot_datasets", params, "datasets.png"),
                     ("plot_rollouts", params, "rollouts.png")]


def test_a_task_without_figures_gets_the_defaults(tmp_path, monkeypatch):
    monkeypatch.delitem(FIGURES._items, "maze")
    plan = Plan(load_suite("maze", "smoke"), "smoke", tmp_path)
    assert type(report_figures.suite_figures(plan)) is SuiteFigures
