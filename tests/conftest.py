"""Test-wide settings: headless MuJoCo rendering and no progress bars in test logs."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("METARL_NO_PROGRESS", "1")
