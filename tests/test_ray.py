"""The Ray executor on a local 2-CPU Ray instance: the maze smoke run gives the pool's
results, a second run does no work, a worker killed mid-shard is retried to identical
data, a job's own error surfaces without Ray's wrapping, and the workers run at the driver's
niceness. Ray stays optional: without it the CLI says how to install it."""

import os
import subprocess
import sys

import pytest

from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.executors import ProcessPoolJobExecutor
from ambient_bench.jobs.functions import ShardJob, run_shard
from ambient_bench.pipeline.runner import Runner
from ambient_bench.registry import UnknownNameError

import faults
from faults import KillOneShardWorker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool_smoke(tmp_path_factory):
    runner = Runner(load_suite("maze", "smoke"), "smoke", tmp_path_factory.mktemp("pool"), progress=False,
                    executor=ProcessPoolJobExecutor(2, progress=False))
    runner.run()
    return runner


@pytest.fixture(scope="module")
def local_ray():
    """A local 2-CPU Ray instance, started as the executor starts one."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    from ambient_bench.jobs.ray_executor import RayExecutor

    RayExecutor(num_cpus=2, progress=False)
    yield ray
    ray.shutdown()


def ray_runner(out, stage="all", executor=None):
    from ambient_bench.jobs.ray_executor import RayExecutor

    runner = Runner(load_suite("maze", "smoke"), "smoke", out, progress=False,
                    executor=executor or RayExecutor(progress=False))
    runner.run(stage)
    return runner


def dataset_checksums(runner):
    return {d.name: (d / "meta.json").read_text() for d in sorted((runner.root / "data").iterdir())}


def output_files(root):
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_maze_smoke_on_ray_matches_pool_and_reruns_without_work(local_ray, pool_smoke, tmp_path):
    runner = ray_runner(tmp_path)
    assert (runner.root / "summary.csv").read_text() == (pool_smoke.root / "summary.csv").read_text()
    assert dataset_checksums(runner) == dataset_checksums(pool_smoke)
    before = output_files(runner.root / "runs") | output_files(runner.root / "data")
    ray_runner(tmp_path)
    assert output_files(runner.root / "runs") | output_files(runner.root / "data") == before


def test_killed_worker_during_datagen_is_retried_to_identical_data(local_ray, pool_smoke, tmp_path):
    from ray import cloudpickle

    from ambient_bench.jobs.ray_executor import RayExecutor

    cloudpickle.register_pickle_by_value(faults)  # Ray workers cannot import the tests' modules
    marker = tmp_path / "killed-worker-pid"
    runner = ray_runner(tmp_path / "out", "datagen", KillOneShardWorker(RayExecutor(progress=False), marker))
    killed_pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(killed_pid, 0)  # that worker really died
    assert dataset_checksums(runner) == dataset_checksums(pool_smoke)


def test_a_worker_that_keeps_dying_fails_the_stage_once_retries_run_out(local_ray, tmp_path):
    from ray import cloudpickle

    from ambient_bench.jobs.executors import JobLostError
    from ambient_bench.jobs.ray_executor import RayExecutor

    cloudpickle.register_pickle_by_value(faults)
    executor = KillOneShardWorker(RayExecutor(max_retries=0, progress=False), tmp_path / "killed-worker-pid")
    with pytest.raises(JobLostError, match=r"datagen shards: .*shard-\d+\.npz did not finish after 0 retries"):
        ray_runner(tmp_path / "out", "datagen", executor)


def test_a_local_instance_runs_its_workers_at_the_drivers_niceness(local_ray):
    """Ray's default runs workers 15 nicer than the driver: on a busy machine they starve."""
    def niceness():
        return os.nice(0)

    assert local_ray.get(local_ray.remote(niceness).remote()) == os.nice(0)


def test_job_error_surfaces_as_itself_not_as_a_ray_error(local_ray, tmp_path):
    from ambient_bench.jobs.ray_executor import RayExecutor

    job = ShardJob("no_such_generator", {}, "clean", [0], tmp_path / "shard-00000.npz")
    with pytest.raises(UnknownNameError, match="no_such_generator") as caught:
        RayExecutor(progress=False).map(run_shard, [job, job], "datagen shards")
    assert not isinstance(caught.value, local_ray.exceptions.RayError)
    assert "Traceback" not in str(caught.value)


def run_cli(args, tmp_path, prelude=""):
    code = f"import sys; {prelude}from ambient_bench.run import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "--suite", "maze", "--preset", "smoke", *args,
                           "--out", str(tmp_path)], capture_output=True, text=True)


def test_cli_joins_a_running_cluster_by_address(local_ray, pool_smoke, tmp_path):
    address = local_ray.get_runtime_context().gcs_address
    proc = run_cli(["--executor", "ray", "--ray-address", address, "--stage", "datagen", "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Ray cluster: 2 CPUs" in proc.stderr
    runner = Runner(load_suite("maze", "smoke"), "smoke", tmp_path, progress=False)
    assert dataset_checksums(runner) == dataset_checksums(pool_smoke)


def test_without_ray_the_cli_says_how_to_install_it(tmp_path):
    proc = run_cli(["--executor", "ray"], tmp_path, prelude="sys.modules['ray'] = None; ")
    assert proc.returncode == 2
    assert 'pip install "ray>=2.9"' in proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--executor", "pool", "--ray-address", "auto"], "--ray-address needs --executor ray"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "no Ray head node answers at 127.0.0.1:1"),
])
def test_bad_executor_flags_exit_2_before_any_work(args, message, local_ray, tmp_path):
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not any(tmp_path.iterdir())
