"""Every periodic job can actually be published by beat, with the limits it will run under."""

from __future__ import annotations

import pytest
from flask import Flask

from workers.beat import beat_schedule


@pytest.mark.parametrize("entry", sorted(beat_schedule()))
def test_beat_entry_publishes_with_consistent_limits(app: Flask, entry: str) -> None:
    celery = app.extensions["celery"]
    name = beat_schedule()[entry]["task"]
    assert name in celery.tasks, f"{entry}: task {name} is not registered"
    task = celery.tasks[name]
    hard = task.time_limit or celery.conf.task_time_limit
    soft = task.soft_time_limit or celery.conf.task_soft_time_limit
    assert hard, f"{name} runs without a time limit"
    if soft:
        assert soft <= hard, f"{name}: soft limit {soft}s above hard limit {hard}s"
    # What beat does every tick: Celery itself refuses inconsistent limits at this point.
    result = task.apply_async()
    assert result.id
