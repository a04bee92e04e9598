"""The same study on Ray as in this process: same trials, same values, the market shared once.

Local Ray is started once for the module, with two CPUs (the machine's size).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import ray

from quantum_trader.research.objective import Objective
from quantum_trader.research.optimize import OptimizeSettings, TrialRecord, optimize
from quantum_trader.research.runner import RayRunner, SerialRunner
from quantum_trader.research.space import Space
from quantum_trader.research.trial import StudySetup, Window


@pytest.fixture(scope="module")
def ray_runner() -> Iterator[RayRunner]:
    runner = RayRunner(num_cpus=2)
    yield runner
    runner.close()


def _study(setup: StudySetup, runner: Any) -> list[tuple[dict[str, str], str, float | None]]:
    space = Space.parse(["fast=3:15", "slow=20:90"])
    settings = OptimizeSettings(Objective("sharpe"), trials=6, seed=11, pruner="median", steps=2, batch=2)
    window = Window(setup.market.start_ms, setup.market.end_ms)
    loop = optimize(space, settings, window, runner, runner.share(setup), lambda _values: None)
    return [_key(r) for r in loop.records]


def _key(record: TrialRecord) -> tuple[dict[str, str], str, float | None]:
    return record.params, record.state, record.value


def test_the_same_seed_gives_the_same_study_serial_or_on_ray(sma_setup: StudySetup, ray_runner: RayRunner) -> None:
    serial = _study(sma_setup, SerialRunner())
    on_ray = _study(sma_setup, ray_runner)
    assert on_ray == serial
    assert len({tuple(sorted(p.items())) for p, _, _ in serial}) > 1  # the sampler did explore
    assert all(state in ("complete", "pruned", "failed") for _, state, _ in serial)


def test_the_market_goes_to_the_object_store_once_per_study(sma_setup: StudySetup, ray_runner: RayRunner,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    puts: list[object] = []
    real_put = ray.put

    def counting_put(value: object, **kwargs: Any) -> Any:
        puts.append(value)
        return real_put(value, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    _study(sma_setup, ray_runner)  # several rounds of tasks
    assert puts == [sma_setup]


def test_map_keeps_the_items_order_and_reports_each_finished_task(ray_runner: RayRunner) -> None:
    heard: list[tuple[int, int]] = []
    assert ray_runner.map(abs, [-3, 2, -1, 0, -7], lambda done, total: heard.append((done, total))) == [3, 2, 1, 0, 7]
    assert heard == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert ray_runner.workers == 2


def test_stress_monte_carlo_on_ray_draws_what_it_draws_serially(ray_runner: RayRunner) -> None:
    """The stress Monte Carlo through the research runner: the market shared once, each draw from its own seed,
    so the draws on Ray equal the serial ones."""
    from tests.analytics.stress.markets import small_market

    from quantum_trader.analytics.stress.montecarlo import MonteCarloConfig, run_monte_carlo
    from quantum_trader.analytics.stress.summary import draws_frame
    from quantum_trader.config import load_policy
    from quantum_trader.engine.strategies import MultiAssetStrategy

    policy = load_policy(None, env={})
    config = MonteCarloConfig(runs=2, seed=5, families=("flash_crash", "funding_spike"))
    serial = run_monte_carlo(small_market(), policy, MultiAssetStrategy, config)
    seen: list[tuple[int, int]] = []
    on_ray = run_monte_carlo(small_market(), policy, MultiAssetStrategy, config, runner=ray_runner,
                             progress=lambda done, total: seen.append((done, total)))
    assert draws_frame(on_ray).equals(draws_frame(serial))
    assert seen[-1] == (2, 2)
