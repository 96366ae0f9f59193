"""Tests of the Meta-World ML1 adapter (``envs.metaworld_ml1``), which need the ``metarl[metaworld]`` extra.

The extra pins ``mujoco==3.3.0``, so these run in their own venv: ``make test-metaworld`` builds
``.venv-metaworld`` and runs them with ``METARL_REQUIRE_METAWORLD=1``, which makes a missing ``metaworld`` an
error.  In any other venv without ``metaworld`` (plain ``make test``) they are skipped with a reason.  Every test
here carries the ``metaworld`` marker (``pytest -m metaworld``).  Test modules must not import ``metaworld`` at
module level, or collection would fail where it is absent.  (The folder is not called ``metaworld``: pytest puts
test folders on ``sys.path``, and a folder of that name would shadow the package as an empty namespace package.)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: set to "1" by `make test-metaworld`: a missing metaworld fails the run instead of skipping these tests
REQUIRE_ENV = "METARL_REQUIRE_METAWORLD"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(item.path).parents]
    for item in mine:
        item.add_marker(pytest.mark.metaworld)
    if not mine or importlib.util.find_spec("metaworld") is not None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        raise pytest.UsageError(
            f'{REQUIRE_ENV}=1 but metaworld is not importable here: pip install "metarl[metaworld]" '
            "(make test-metaworld builds .venv-metaworld with it)"
        )
    skip = pytest.mark.skip(reason='needs metaworld: pip install "metarl[metaworld]"; make test-metaworld runs these')
    for item in mine:
        item.add_marker(skip)
