"""Test-wide settings: headless MuJoCo rendering and no progress bars in test logs; the one-torch-thread fixture."""

import os

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("METARL_NO_PROGRESS", "1")


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (restored after): tiny policies run faster on one, and spare the other core
    of a 2-core machine.  Use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
