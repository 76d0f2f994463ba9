"""The task functions' keys name the handler each one runs."""

from __future__ import annotations

import importlib

from dr_constructs import task_functions
from dr_constructs.task_functions import TASKS, TaskFunction


def test_a_key_is_its_handlers_module_or_module_and_function() -> None:
    for spec in TASKS:
        module, _, function = spec.key.partition(".")
        handler = getattr(importlib.import_module(f"lambdas.handlers.{module}"), function or "handler")
        assert f"{handler.__module__}.{handler.__name__}" == spec.handler


def test_keys_are_unique() -> None:
    keys = [spec.key for spec in TASKS]
    assert len(keys) == len(set(keys))


def test_every_task_function_is_created_under_the_name_of_its_key() -> None:
    named = {name: v for name, v in vars(task_functions).items() if isinstance(v, TaskFunction)}
    assert sorted(named) == sorted(
        spec.key.upper().replace(".", "_").removesuffix("_HANDLER") for spec in TASKS
    )
    assert all(named[name] in TASKS for name in named)
