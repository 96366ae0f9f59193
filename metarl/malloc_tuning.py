"""glibc malloc settings that keep freed tensor memory in the process for the next allocation.

Why: a MAML-TRPO meta-step allocates and frees the same large activation tensors again and again — on the
paper's MetaNav2D batch each hidden activation is ``[20 tasks, 2000 samples, 100]`` float32 = 16 MB, and every
one of the 21 gradients through the inner step (10 central-difference Fisher-vector products and the
meta-gradient) makes dozens of them.  glibc serves blocks above its mmap threshold (128 KiB, adapted up to
32 MiB at run time) with fresh ``mmap``'d pages and unmaps them on ``free``, so every such tensor costs one page
fault and one kernel page clear per 4 KiB.  Measured on this project's 2-core machine, one central-difference
Fisher-vector product (two gradients through the inner step) of the paper's batch took 0.30-0.33 s with 39-48k
page faults on MetaNav2D and 2.27 s with 968k page faults (1.7 s of it system time) on MetaCheetahDir-v0
(40 tasks × 20 rollouts × 200 steps); with these settings 0.25-0.29 s and 1.33 s, with 3-7k faults
(benchmarks/results/maml_trpo_speed.json records the setting each measurement ran with).

What :func:`keep_freed_memory` sets (``mallopt``, the same as the ``MALLOC_*_`` environment variables):

* ``M_MMAP_MAX = 0``: no block is served by ``mmap``; every allocation comes from the heap, whatever its size
  (the mmap threshold cannot be raised above 32 MiB, and the half-cheetah batch's activations are 64 MB);
* ``M_TRIM_THRESHOLD`` = 2 GiB: freed memory at the top of the heap stays in the process (up to 2 GiB) instead
  of going back to the kernel, so the next meta-step reuses pages that are already mapped;
* ``M_TOP_PAD`` = 64 MiB: the heap grows in steps of at least 64 MiB, fewer ``brk`` calls.

The cost is memory: the process keeps (does not return to the OS) up to 2 GiB of freed heap memory, so its
resident size stays at its peak (1.9 GB instead of 1.4 GB on the half-cheetah batch).  Nothing changes
numerically — only where the bytes come from.

Measured effect (``benchmarks/bench_maml_trpo_speed.py``, on and off the same hour with the same code; the
JSON's ``machine.malloc_tuning`` records the setting): on MetaNav2D with the paper's config the central
finite-difference meta-step took 2.82 / 3.03 s with the tuning against 3.61 / 3.27 s without (1 / 2 sampler
workers), forward differences 1.92 / 1.88 against 2.03 / 2.30, Gauss-Newton products 1.93 / 2.13 against
2.62 / 2.49; on MetaCheetahDir-v0 (40 tasks × 20 rollouts × 200 steps, central differences, 1 worker) the
meta-step took 15.1 s against 24.9 s, the whole iteration 27.5 against 37.0 s.

Opt-in — ``import metarl`` never calls ``mallopt``:

* :func:`keep_freed_memory` applies the settings; call it once at the start of a training process (it affects
  the whole process, so a library must not make that choice for its user).  ``METARL_MALLOC_TUNING=0`` in the
  environment vetoes it, so a user can turn it off in a script that calls it.
* :func:`keep_freed_memory_if_requested` applies them only when ``METARL_MALLOC_TUNING=1``: for entry points
  that leave the choice to the environment (``METARL_MALLOC_TUNING=1 python examples/train.py ...``).

Either way the user's own glibc malloc options win (any ``MALLOC_*_`` variable, or ``GLIBC_TUNABLES`` naming
``glibc.malloc``: nothing is changed), and on a C library other than glibc nothing happens.  :data:`status`
says what the last call did (``"not called"`` until one is made).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from collections.abc import Mapping

#: ``mallopt`` parameter numbers (glibc ``malloc.h``)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
#: the settings :func:`keep_freed_memory` applies, by ``mallopt`` parameter name
SETTINGS: dict[str, int] = {
    "M_MMAP_MAX": 0,
    "M_TRIM_THRESHOLD": 2**31 - 1,  # 2 GiB, the largest value mallopt's int takes
    "M_TOP_PAD": 64 * 1024**2,
}
_PARAMETERS = {"M_TRIM_THRESHOLD": M_TRIM_THRESHOLD, "M_TOP_PAD": M_TOP_PAD, "M_MMAP_MAX": M_MMAP_MAX}
#: the environment variable: ``1`` asks :func:`keep_freed_memory_if_requested` for the tuning, ``0`` vetoes
#: :func:`keep_freed_memory`; unset or empty means neither
ENV_VAR = "METARL_MALLOC_TUNING"
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})

#: what the last :func:`keep_freed_memory` / :func:`keep_freed_memory_if_requested` call did (``"not called"``
#: before any: ``import metarl`` leaves it so), for benchmark records
status = "not called"

__all__ = ["ENV_VAR", "SETTINGS", "keep_freed_memory", "keep_freed_memory_if_requested", "requested",
           "user_malloc_settings"]


def requested(environ: Mapping[str, str] | None = None) -> bool | None:
    """What ``METARL_MALLOC_TUNING`` asks for: ``True`` (``1``/``true``/``yes``/``on``), ``False``
    (``0``/``false``/``no``/``off``) or ``None`` (unset or empty).

    :raises ValueError: on any other value, naming the variable (a typo must not silently change speed).
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{ENV_VAR}={environ[ENV_VAR]!r}: use 1 (on) or 0 (off)")


def user_malloc_settings(environ: Mapping[str, str]) -> list[str]:
    """The glibc malloc options already set in ``environ``: ``MALLOC_*_`` variables (``MALLOC_ARENA_MAX``
    included) and a ``GLIBC_TUNABLES`` that names ``glibc.malloc``."""
    names = [name for name in environ if name.startswith("MALLOC_")]
    if "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        names.append("GLIBC_TUNABLES")
    return sorted(names)


def keep_freed_memory(environ: Mapping[str, str] | None = None) -> str:
    """Apply :data:`SETTINGS` with glibc's ``mallopt`` (see the module docstring) and return what happened.

    Call it once, early, in a training process; it is never called by ``import metarl``.

    :param environ: the environment to read the veto (``METARL_MALLOC_TUNING=0``) and the user's own malloc
        options from (default ``os.environ``).
    :returns: ``"applied"``, or why not: ``"disabled by METARL_MALLOC_TUNING=0"``, ``"user settings: ..."``,
        ``"not glibc (...)"``.  Also stored in the module's :data:`status`.
    :raises ValueError: if ``METARL_MALLOC_TUNING`` holds something else than 0/1 (see :func:`requested`).
    :raises OSError: if glibc's ``mallopt`` rejects a setting (it returns 0) — it never should.
    """
    global status
    environ = os.environ if environ is None else environ
    if requested(environ) is False:
        status = f"disabled by {ENV_VAR}={environ[ENV_VAR]}"
        return status
    user = user_malloc_settings(environ)
    if user:
        status = f"user settings: {', '.join(user)}"
        return status
    libc_name, _ = platform.libc_ver()
    if libc_name != "glibc":
        status = f"not glibc ({libc_name or 'unknown C library'})"
        return status
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    for name, value in SETTINGS.items():
        if libc.mallopt(ctypes.c_int(_PARAMETERS[name]), ctypes.c_int(value)) != 1:
            raise OSError(f"glibc mallopt rejected {name}={value}")
    status = "applied"
    return status


def keep_freed_memory_if_requested(environ: Mapping[str, str] | None = None) -> str:
    """:func:`keep_freed_memory` if ``METARL_MALLOC_TUNING=1``, else nothing.

    :returns: what :func:`keep_freed_memory` returned, or ``"not requested (METARL_MALLOC_TUNING unset)"`` /
        ``"disabled by METARL_MALLOC_TUNING=0"``; also stored in :data:`status`.
    :raises ValueError: if ``METARL_MALLOC_TUNING`` holds something else than 0/1.
    """
    global status
    environ = os.environ if environ is None else environ
    if requested(environ) is None:
        status = f"not requested ({ENV_VAR} unset)"
        return status
    return keep_freed_memory(environ)
