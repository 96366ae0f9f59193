"""Seeding: every random stream of a run derived from one integer, and RNG state capture for checkpoints.

Library code never draws from global random state (``np.random.*``, ``torch.rand*`` without a generator,
``random.*``). It takes explicit generators, which a run derives from its one seed:

>>> streams = RNGStreams.from_seed(0)
>>> tasks = env.sample_tasks(20, rng=streams.tasks)            # doctest: +SKIP
>>> obs, _ = env.reset(seed=streams.env_seeds(1)[0])            # doctest: +SKIP
>>> noise = torch.randn(3, generator=streams.torch_sample)      # doctest: +SKIP

Child seeds come from :class:`numpy.random.SeedSequence`, so streams are statistically independent
(no ``seed + 1`` overlaps). Named children (:func:`derive_seed`) are stable: adding a new stream never
changes the numbers drawn by the existing ones.

:func:`seed_everything` additionally seeds the *global* generators (python ``random``, legacy
``np.random``, torch) for example scripts and third-party code that uses them.

:func:`capture_rng_state` / :func:`restore_rng_state` turn all RNG state into plain containers
(ints, lists, dicts, tensors) that :func:`metarl.checkpoint.save_checkpoint` stores and
``torch.load(weights_only=True)`` reads back, so a resumed run draws the same numbers as an
uninterrupted one.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "RNGStreams",
    "SeedLike",
    "capture_rng_state",
    "derive_seed",
    "generator_state",
    "make_rng",
    "make_torch_generator",
    "resolve_seed",
    "restore_rng_state",
    "seed_everything",
    "set_generator_state",
    "spawn_seeds",
]

#: An integer seed >= 0 or a :class:`numpy.random.SeedSequence`.
SeedLike = int | np.integer | np.random.SeedSequence

#: Derived seeds lie in [0, 2**63): valid for torch.manual_seed, Gymnasium's reset(seed=...) and SeedSequence.
_SEED_BITS = 63
#: First spawn-key word of named children. SeedSequence.spawn() children have 1-word keys ``(i,)``, named
#: children have 2-word keys ``(_NAMED_TAG, crc32(name))``, so the two families can never coincide.
_NAMED_TAG = 0x6D657461  # "meta"
#: Marker for numpy arrays inside plain RNG-state containers.
_NDARRAY_TAG = "__ndarray__"


# ----------------------------------------------------------------------------------------------- seeds
def _as_seed_sequence(seed: SeedLike, name: str = "seed") -> np.random.SeedSequence:
    """Validate ``seed`` and wrap it in a SeedSequence (raising a clear error naming ``name``)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int or numpy SeedSequence, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {int(seed)}")
    return np.random.SeedSequence(int(seed))


def _seed_from_sequence(seq: np.random.SeedSequence) -> int:
    """A 63-bit integer seed drawn from ``seq``."""
    return int(seq.generate_state(1, dtype=np.uint64)[0]) >> (64 - _SEED_BITS)


def resolve_seed(seed: int | None) -> int:
    """Return ``seed`` unchanged, or fresh OS entropy as a 63-bit int when ``seed`` is ``None``.

    Use it at the top of a script so that an unseeded run still logs the seed that reproduces it.
    """
    if seed is None:
        return _seed_from_sequence(np.random.SeedSequence())
    _as_seed_sequence(seed)
    return int(seed)


def derive_seed(seed: SeedLike, *names: str) -> int:
    """A stable child seed of ``seed`` for the purpose ``names`` (e.g. ``derive_seed(0, "envs")``).

    Different names give independent seeds; the same (seed, names) always gives the same seed, on every
    platform (names are hashed with CRC-32, not Python's salted ``hash``). Nested names
    (``derive_seed(0, "worker", "3")``) derive from the nested path.

    :param seed: root seed (int >= 0) or SeedSequence.
    :param names: one or more non-empty strings naming the purpose.
    :return: an int in ``[0, 2**63)``.
    """
    return _seed_from_sequence(_named_child(seed, names))


def _named_child(seed: SeedLike, names: tuple[str, ...]) -> np.random.SeedSequence:
    if not names:
        raise ValueError("derive_seed needs at least one name, e.g. derive_seed(seed, 'envs')")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"seed names must be non-empty strings, got {name!r}")
    root = _as_seed_sequence(seed)
    key = tuple(root.spawn_key) + (_NAMED_TAG,) + tuple(zlib.crc32(n.encode("utf-8")) for n in names)
    return np.random.SeedSequence(root.entropy, spawn_key=key, pool_size=root.pool_size)


def spawn_seeds(seed: SeedLike, n: int) -> list[int]:
    """``n`` independent integer child seeds of ``seed`` (via :meth:`numpy.random.SeedSequence.spawn`).

    Deterministic in ``seed``: ``spawn_seeds(s, n)[:k] == spawn_seeds(s, k)``.

    :param seed: root seed (int >= 0) or SeedSequence (a SeedSequence is not advanced: the children are
        computed from a copy, so repeated calls return the same seeds).
    :param n: number of seeds, >= 0.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    root = _as_seed_sequence(seed)
    fresh = np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size)
    return [_seed_from_sequence(child) for child in fresh.spawn(int(n))]


def make_rng(seed: SeedLike | None) -> np.random.Generator:
    """A :class:`numpy.random.Generator` (PCG64) seeded with ``seed``; ``None`` means fresh OS entropy."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(_as_seed_sequence(seed))


def make_torch_generator(seed: SeedLike, device: str | torch.device = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded with a 63-bit seed derived from ``seed``.

    An int seed is hashed through SeedSequence first, so ``make_torch_generator(0)`` and
    ``make_rng(0)`` are not correlated streams.
    """
    gen = torch.Generator(device=device)
    gen.manual_seed(_seed_from_sequence(_as_seed_sequence(seed)))
    return gen


@dataclass(eq=False)
class RNGStreams:
    """The independent random streams of one run, all derived from ``seed``.

    Each stream is a named child (:func:`derive_seed`), so the streams are independent and adding a new
    one (:meth:`child`) never changes the others.

    :param seed: the root seed the streams were derived from.
    :param tasks: numpy generator for task sampling (``env.sample_tasks(n, rng=streams.tasks)``).
    :param envs: numpy generator that draws env reset seeds (:meth:`env_seeds`).
    :param sampler: numpy generator for any other numpy randomness of the sampler (e.g. shuffling).
    :param torch_init: torch generator for parameter initialisation.
    :param torch_sample: torch generator for action sampling.
    """

    seed: int
    tasks: np.random.Generator
    envs: np.random.Generator
    sampler: np.random.Generator
    torch_init: torch.Generator
    torch_sample: torch.Generator

    #: names of the generator fields, in state_dict order
    STREAMS = ("tasks", "envs", "sampler", "torch_init", "torch_sample")

    @classmethod
    def from_seed(cls, seed: int) -> RNGStreams:
        """Derive every stream from the integer ``seed`` (>= 0)."""
        _as_seed_sequence(seed)
        seed = int(seed)
        return cls(
            seed=seed,
            tasks=np.random.default_rng(_named_child(seed, ("tasks",))),
            envs=np.random.default_rng(_named_child(seed, ("envs",))),
            sampler=np.random.default_rng(_named_child(seed, ("sampler",))),
            torch_init=make_torch_generator(_named_child(seed, ("torch_init",))),
            torch_sample=make_torch_generator(_named_child(seed, ("torch_sample",))),
        )

    def child(self, name: str) -> np.random.Generator:
        """A fresh numpy generator for an extra purpose ``name``, derived from :attr:`seed`.

        Its state is not part of :meth:`state_dict`; capture it yourself with :func:`generator_state`.
        """
        return np.random.default_rng(_named_child(self.seed, (name,)))

    def env_seeds(self, n: int) -> list[int]:
        """Draw ``n`` integer seeds for ``env.reset(seed=...)`` from the :attr:`envs` stream."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        return [int(s) for s in self.envs.integers(0, 2**_SEED_BITS, size=int(n), dtype=np.int64)]

    def state_dict(self) -> dict[str, Any]:
        """All stream states as plain containers (checkpoint-safe, see :func:`generator_state`)."""
        state: dict[str, Any] = {"seed": self.seed}
        for name in self.STREAMS:
            state[name] = generator_state(getattr(self, name))
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the stream states saved by :meth:`state_dict`.

        :raises ValueError: if a stream is missing from ``state`` or was saved from a different seed.
        """
        missing = [name for name in ("seed", *self.STREAMS) if name not in state]
        if missing:
            raise ValueError(f"RNGStreams state is missing {missing}; got keys {sorted(state)}")
        if int(state["seed"]) != self.seed:
            raise ValueError(
                f"RNGStreams state was saved for seed {state['seed']}, these streams use seed {self.seed}"
            )
        for name in self.STREAMS:
            set_generator_state(getattr(self, name), state[name], name=name)


def seed_everything(seed: int, *, deterministic_torch: bool = False) -> np.random.Generator:
    """Seed the global generators (python ``random``, legacy ``np.random``, torch) and return a generator.

    For example scripts: library code takes explicit generators (:class:`RNGStreams`) and does not
    depend on the global state seeded here, but third-party code (e.g. ``torch.nn.Linear``'s default
    initialisation, stable-baselines3) does. Each global generator gets its own derived seed.

    :param seed: int >= 0.
    :param deterministic_torch: also call ``torch.use_deterministic_algorithms(True)`` (slower; only matters
        for the few non-deterministic CPU/GPU kernels).
    :return: a numpy Generator derived from ``seed`` (the named child ``"main"``).
    """
    _as_seed_sequence(seed)
    random.seed(derive_seed(seed, "python"))
    # the legacy global numpy RNG only accepts 32-bit seeds
    np.random.seed(derive_seed(seed, "numpy_global") & 0xFFFF_FFFF)
    torch.manual_seed(derive_seed(seed, "torch_global"))
    if deterministic_torch:
        torch.use_deterministic_algorithms(True)
    return np.random.default_rng(_named_child(seed, ("main",)))


# -------------------------------------------------------------------------------------------- RNG state
def _to_plain(value: Any) -> Any:
    """numpy arrays/scalars inside a bit-generator state -> tagged plain containers."""
    if isinstance(value, np.ndarray):
        return {_NDARRAY_TAG: str(value.dtype), "data": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        if _NDARRAY_TAG in value:
            return np.asarray(value["data"], dtype=np.dtype(value[_NDARRAY_TAG]))
        return {k: _from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    return value


def generator_state(gen: np.random.Generator | torch.Generator) -> dict[str, Any] | torch.Tensor:
    """The state of one generator as checkpoint-safe plain data.

    numpy: the ``bit_generator.state`` dict with arrays turned into tagged lists; torch: the uint8 state
    tensor. Restore with :func:`set_generator_state`.
    """
    if isinstance(gen, np.random.Generator):
        return _to_plain(gen.bit_generator.state)
    if isinstance(gen, torch.Generator):
        return gen.get_state()
    raise TypeError(f"expected a numpy Generator or torch.Generator, got {type(gen).__name__}")


def set_generator_state(
    gen: np.random.Generator | torch.Generator, state: Any, *, name: str = "generator"
) -> None:
    """Restore a state captured by :func:`generator_state` into ``gen`` (in place).

    :param name: used in error messages.
    :raises ValueError: if the state does not fit the generator (e.g. a PCG64 state into an MT19937).
    """
    if isinstance(gen, np.random.Generator):
        if not isinstance(state, Mapping) or "bit_generator" not in state:
            raise ValueError(f"{name}: expected a numpy bit-generator state dict, got {type(state).__name__}")
        expected = type(gen.bit_generator).__name__
        if state["bit_generator"] != expected:
            raise ValueError(f"{name}: state is for bit generator {state['bit_generator']!r}, generator uses {expected!r}")
        gen.bit_generator.state = _from_plain(state)
    elif isinstance(gen, torch.Generator):
        if not isinstance(state, torch.Tensor):
            raise ValueError(f"{name}: expected a torch RNG state tensor, got {type(state).__name__}")
        gen.set_state(state)
    else:
        raise TypeError(f"{name}: expected a numpy Generator or torch.Generator, got {type(gen).__name__}")


def capture_rng_state(
    generators: Mapping[str, np.random.Generator | torch.Generator] | None = None,
) -> dict[str, Any]:
    """Capture the global RNG states and the given named generators as plain, checkpoint-safe data.

    The result has keys ``"python"`` (``random.getstate()`` as lists), ``"numpy_global"`` (legacy
    ``np.random`` state), ``"torch_global"`` (CPU state tensor), ``"torch_cuda"`` (per-device state tensors,
    only when CUDA is available) and ``"generators"`` (``{name: generator_state(g)}``).

    Capturing (or restoring) the global state is not drawing from it: library code may call this.
    """
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss_next],
        "numpy_global": _to_plain(np.random.get_state(legacy=False)),
        "torch_global": torch.get_rng_state(),
        "generators": {},
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = list(torch.cuda.get_rng_state_all())
    for name, gen in (generators or {}).items():
        state["generators"][name] = generator_state(gen)
    return state


def restore_rng_state(
    state: Mapping[str, Any],
    generators: Mapping[str, np.random.Generator | torch.Generator] | None = None,
    *,
    restore_global: bool = True,
) -> None:
    """Restore what :func:`capture_rng_state` captured.

    :param state: the dict returned by :func:`capture_rng_state` (possibly after a checkpoint round trip).
    :param generators: named generators to restore in place; every name must be present in
        ``state["generators"]``.
    :param restore_global: also restore python ``random``, legacy numpy and torch global state.
    :raises ValueError: naming a missing key or generator.
    """
    if not isinstance(state, Mapping):
        raise ValueError(f"RNG state must be a dict from capture_rng_state, got {type(state).__name__}")
    if restore_global:
        missing = [k for k in ("python", "numpy_global", "torch_global") if k not in state]
        if missing:
            raise ValueError(f"RNG state is missing {missing}; got keys {sorted(state)}")
        version, internal, gauss_next = state["python"]
        random.setstate((int(version), tuple(int(x) for x in internal), gauss_next))
        np.random.set_state(_from_plain(state["numpy_global"]))
        torch.set_rng_state(state["torch_global"])
        if "torch_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["torch_cuda"])
    saved = state.get("generators", {})
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise ValueError(f"RNG state has no generator {name!r}; saved generators: {sorted(saved)}")
        set_generator_state(gen, saved[name], name=name)
