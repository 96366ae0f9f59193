"""The oracle comparison learner of MAML (Finn et al. 2017, section 5.3, baseline (c)).

(Why one file of ~850 lines: training, saving, loading and evaluating the SB3 oracle share its settings presets
and its observation normalisation, which must match exactly between training and evaluation.)

Saving and loading never unpickle code: the artifact (:func:`save_oracle`) is a metarl checkpoint — the policy's
weights as tensors, the settings and the observation statistics as plain data — read with
``torch.load(weights_only=True)``.  The stable-baselines3 zips of earlier versions (``PPO.load`` unpickles them with
cloudpickle, so a crafted zip runs code) load only with ``trust_pickle=True``, and only with their JSON sidecar;
:func:`convert_legacy_oracle` turns one into the artifact.

The MAML paper compares its meta-learned initialisation with "an oracle policy which receives the parameters of
the task as input" — an upper bound on what adaptation can reach, because the oracle never has to infer the task.
Here the oracle is a :class:`stable_baselines3.PPO` policy trained on observations with the task vector appended
(:class:`envs.wrappers.TaskInObservation`), over the whole task distribution: a plain ``gymnasium.make`` env draws a
new task at every reset (the task protocol of :mod:`envs.base`), so one policy learns to solve every task it is told
about.

Pieces, in the order a run uses them::

    config = OracleConfig(env_id="MetaNav2D-v0")          # PPO presets per env family, resolved on construction
    path = train_oracle(config, "runs/oracle_nav2d/oracle.pt")    # one artifact: weights + settings + statistics
    oracle = load_oracle(path)                             # OraclePolicy; torch.load(weights_only=True)
    actions = oracle.predict_fn(obs_with_task)             # [B, obs + task] -> [B, act], deterministic
    returns = evaluate_oracle(oracle, "MetaNav2D-v0", tasks, rollouts_per_task=40, seed=0)   # per-task means

:func:`evaluate_oracle` takes any callable of the shape of :meth:`OraclePolicy.predict_fn`, so a scripted
oracle (e.g. "move towards the goal read from the task vector") is evaluated by the same code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from numpy.typing import NDArray
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

import metarl  # noqa: F401  (registers the env ids)
from agents import paper_settings
from envs.protocol import env_spec
from envs.wrappers import TaskInObservation
from metarl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from metarl.progress import progress
from metarl.rl.sampler import LocalVectorStepper, collect_episodes

__all__ = [
    "ORACLE_KIND",
    "PPO_PRESETS",
    "ObservationNormalization",
    "OracleConfig",
    "OraclePolicy",
    "PPOPreset",
    "env_family",
    "evaluate_oracle",
    "load_oracle",
    "convert_legacy_oracle",
    "is_legacy_oracle_zip",
    "make_oracle_env",
    "make_training_vec_env",
    "ppo_kwargs",
    "save_oracle",
    "sidecar_path",
    "train_oracle",
]

#: ``kind`` of the oracle artifact (and of the JSON sidecars of legacy zips), checked by :func:`load_oracle`
ORACLE_KIND = "metarl_oracle_ppo"
#: version of the legacy sidecar layout
SIDECAR_VERSION = 1


# ---------------------------------------------------------------------------------------------------------------
# The training env: a new task at every reset, with the task in the observation
# ---------------------------------------------------------------------------------------------------------------
def make_oracle_env(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env[Any, Any]:
    """One training env of the oracle: ``TaskInObservation(gymnasium.make(env_id))``.

    The env draws a fresh task at every reset with its seeded ``np_random`` (no task is fixed), and every
    observation ends with that task's ``task_vector``.
    """
    return TaskInObservation(gym.make(env_id, **dict(env_kwargs or {})))


# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PPOPreset:
    """PPO settings for one env family; :class:`OracleConfig` fills its ``None`` fields from one of these."""

    total_timesteps: int
    rollout_size: int
    """Transitions per PPO update summed over the envs (``n_steps = rollout_size // n_envs``)."""
    batch_size: int
    n_epochs: int
    learning_rate: float
    gamma: float
    gae_lambda: float
    clip_range: float
    ent_coef: float
    vf_coef: float
    max_grad_norm: float
    log_std_init: float
    ortho_init: bool
    value_hidden_sizes: tuple[int, ...]
    normalize_observations: bool
    normalize_rewards: bool
    source: str
    """Where the numbers come from."""


#: PPO presets by env family (see :func:`env_family`).
PPO_PRESETS: dict[str, PPOPreset] = {
    # SB3's PPO defaults, which are the PPO paper's MuJoCo settings (Schulman et al. 2017, Table 3: 2048 steps per
    # update, 10 epochs, minibatch 64, Adam 3e-4, GAE 0.95, clip 0.2), with an initial action std of e^-2 ~ 0.14
    # because the point moves at most 0.1 per step (std 1 would saturate every action).  Learns within ~200k steps.
    "navigation": PPOPreset(
        total_timesteps=200_000, rollout_size=2048, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.99,
        gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, log_std_init=-2.0,
        ortho_init=True, value_hidden_sizes=(100, 100), normalize_observations=False, normalize_rewards=False,
        source="SB3 PPO defaults (PPO paper MuJoCo settings) + log_std_init=-2 for the 0.1 action scale",
    ),
    # rl-baselines3-zoo hyperparams/ppo.yml, tuned entry "HalfCheetah-v3": normalize: true, n_envs 1 x n_steps 512
    # (= 512 transitions per update, kept here as rollout_size), batch 64, gamma 0.98, lr 2.0633e-5,
    # ent 4.01762e-4, clip 0.1, 20 epochs, GAE 0.92, max_grad_norm 0.8, vf 0.58096, log_std_init -2,
    # ortho_init False, ReLU, critic 256x256; 1e6 steps.  rl-zoo has no tuned Ant entry (its Ant-v3 uses SB3's
    # defaults), so the ant envs share the half-cheetah preset.
    "locomotion": PPOPreset(
        total_timesteps=1_000_000, rollout_size=512, batch_size=64, n_epochs=20, learning_rate=2.0633e-5,
        gamma=0.98, gae_lambda=0.92, clip_range=0.1, ent_coef=0.000401762, vf_coef=0.58096, max_grad_norm=0.8,
        log_std_init=-2.0, ortho_init=False, value_hidden_sizes=(256, 256), normalize_observations=True,
        normalize_rewards=True, source="rl-baselines3-zoo hyperparams/ppo.yml HalfCheetah-v3 (tuned)",
    ),
}


def env_family(env_id: str) -> str:
    """The preset family of ``env_id``: ``"navigation"`` for the 2D point envs, ``"locomotion"`` otherwise."""
    return "navigation" if "Nav2D" in env_id else "locomotion"


@dataclass
class OracleConfig:
    """Training settings of the oracle (MAML paper 5.3: "an oracle policy which receives the parameters of the task
    as input"), trained with stable-baselines3 PPO on ``TaskInObservation(env)`` (the env draws a task per reset).

    Fields left at ``None`` are filled from :data:`PPO_PRESETS` for the env's family on construction, so a
    constructed config (and the JSON sidecar of a trained oracle) always holds the values actually used.
    """

    env_id: str = field(default="MetaNav2D-v0", metadata={"aliases": ("env",)})
    """Gymnasium id of the task-distribution env (a metarl id, e.g. MetaNav2D-v0 or MetaCheetahVel-v0)."""
    total_timesteps: int | None = None
    """Environment steps of PPO training; None = the family preset (navigation 200k; locomotion 1M as rl-zoo)."""
    n_envs: int = 8
    """Parallel training envs (SB3 make_vec_env), each drawing its own tasks."""
    seed: int = 0
    """Seed of PPO (SB3 seeds torch/numpy/random globally), the env resets and the task streams (env i: seed + i)."""
    learning_rate: float | None = None
    """Adam step size; None = the family preset (navigation 3e-4; locomotion 2.0633e-5, rl-zoo HalfCheetah)."""
    n_steps: int | None = None
    """Steps per env per PPO update; None = preset rollout size // n_envs (navigation 2048, locomotion 512 in total)."""
    batch_size: int | None = None
    """PPO minibatch size; None = the family preset (64 for both)."""
    n_epochs: int | None = None
    """Passes over each rollout; None = the family preset (navigation 10; locomotion 20)."""
    gamma: float | None = None
    """Discount; None = the family preset (navigation 0.99; locomotion 0.98)."""
    gae_lambda: float | None = None
    """GAE lambda; None = the family preset (navigation 0.95; locomotion 0.92)."""
    clip_range: float | None = None
    """PPO ratio clip; None = the family preset (navigation 0.2; locomotion 0.1)."""
    ent_coef: float | None = None
    """Entropy bonus weight; None = the family preset (navigation 0; locomotion 4.01762e-4)."""
    vf_coef: float | None = None
    """Value-loss weight; None = the family preset (navigation 0.5; locomotion 0.58096)."""
    max_grad_norm: float | None = None
    """Gradient-norm clip; None = the family preset (navigation 0.5; locomotion 0.8)."""
    log_std_init: float | None = None
    """Initial log-std of the Gaussian policy; None = the family preset (-2 for both)."""
    ortho_init: bool | None = None
    """Orthogonal initialisation of the networks; None = the family preset (navigation on; locomotion off)."""
    policy_hidden_sizes: tuple[int, ...] = (100, 100)
    """Hidden layers of the policy MLP (ReLU): 2 x 100 like the MAML paper's policies, so the oracle is comparable."""
    value_hidden_sizes: tuple[int, ...] | None = None
    """Hidden layers of the separate value MLP (ReLU); None = the family preset (navigation 100 100; locomotion 256
    256 as rl-zoo — PPO's critic benefits from the capacity and the critic is not part of the compared policy)."""
    normalize_observations: bool | None = None
    """Running observation normalisation (SB3 VecNormalize; the stats are saved and applied by predict_fn);
    None = the family preset (navigation off; locomotion on, rl-zoo normalize: true)."""
    normalize_rewards: bool | None = None
    """Running return-based reward scaling during training only (VecNormalize); None = the family preset."""
    vec_env: str = field(default="dummy", metadata={"choices": ("dummy", "subproc")})
    """SB3 vectorisation: 'dummy' (one process, best for cheap envs) or 'subproc' (one process per env)."""
    torch_threads: int = 1
    """torch intra-op threads while training (1 is fastest for these small MLPs; restored afterwards)."""
    tensorboard: bool = False
    """Write SB3's TensorBoard logs to <out dir>/tensorboard."""
    verbose: int = 0
    """SB3 verbosity (0 none, 1 training tables)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra env constructor kwargs (JSON-serialisable), used for training and evaluation."""

    def __post_init__(self) -> None:
        try:
            env_spec(self.env_id)  # "module:Id" imports the module, which registers the id
        except ValueError as exc:
            raise ValueError(f"OracleConfig.{exc}; metarl registers {', '.join(_metarl_env_ids())}") from None
        preset = PPO_PRESETS[env_family(self.env_id)]
        _check_int("n_envs", self.n_envs, 1)
        _check_int("seed", self.seed, 0)
        _check_int("torch_threads", self.torch_threads, 1)
        _check_int("verbose", self.verbose, 0)
        for name in ("total_timesteps", "learning_rate", "batch_size", "n_epochs", "gamma", "gae_lambda",
                     "clip_range", "ent_coef", "vf_coef", "max_grad_norm", "log_std_init", "ortho_init",
                     "value_hidden_sizes", "normalize_observations", "normalize_rewards"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(preset, name))
        if self.n_steps is None:
            self.n_steps = max(1, preset.rollout_size // self.n_envs)
        _check_int("total_timesteps", self.total_timesteps, 1)
        _check_int("n_steps", self.n_steps, 1)
        _check_int("batch_size", self.batch_size, 2)
        _check_int("n_epochs", self.n_epochs, 1)
        rollout = self.n_steps * self.n_envs
        if self.batch_size > rollout:
            raise ValueError(
                f"OracleConfig.batch_size={self.batch_size} exceeds the rollout of n_steps x n_envs = "
                f"{self.n_steps} x {self.n_envs} = {rollout} transitions per PPO update"
            )
        _check_float("learning_rate", self.learning_rate, low=0.0, low_open=True)
        _check_float("gamma", self.gamma, low=0.0, high=1.0, low_open=True)
        _check_float("gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        _check_float("clip_range", self.clip_range, low=0.0, low_open=True)
        _check_float("ent_coef", self.ent_coef, low=0.0)
        _check_float("vf_coef", self.vf_coef, low=0.0)
        _check_float("max_grad_norm", self.max_grad_norm, low=0.0, low_open=True)
        _check_float("log_std_init", self.log_std_init)
        for name in ("ortho_init", "normalize_observations", "normalize_rewards", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"OracleConfig.{name} must be a bool, got {getattr(self, name)!r}")
        self.policy_hidden_sizes = _check_hidden("policy_hidden_sizes", self.policy_hidden_sizes)
        self.value_hidden_sizes = _check_hidden("value_hidden_sizes", self.value_hidden_sizes)
        if self.vec_env not in ("dummy", "subproc"):
            raise ValueError(f"OracleConfig.vec_env must be 'dummy' or 'subproc', got {self.vec_env!r}")
        if not isinstance(self.env_kwargs, dict):
            raise TypeError(f"OracleConfig.env_kwargs must be a dict, got {type(self.env_kwargs).__name__}")
        try:
            json.dumps(self.env_kwargs)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"OracleConfig.env_kwargs must be JSON-serialisable (it goes into the sidecar): {exc}") from None

    @property
    def family(self) -> str:
        """The preset family of :attr:`env_id` (``"navigation"`` or ``"locomotion"``)."""
        return env_family(self.env_id)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> OracleConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise a ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown OracleConfig field(s) {unknown}")
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**converted)


def _metarl_env_ids() -> tuple[str, ...]:
    """The env ids metarl registers."""
    from envs import ENV_IDS

    return ENV_IDS


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"OracleConfig.{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < low:
        raise ValueError(f"OracleConfig.{name} must be >= {low}, got {value}")


def _check_float(
    name: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"OracleConfig.{name} must be a number, got {type(value).__name__}: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"OracleConfig.{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"OracleConfig.{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"OracleConfig.{name} must be <= {high}, got {value}")


def _check_hidden(name: str, sizes: Any) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (tuple, list)) or not sizes:
        raise ValueError(f"OracleConfig.{name} must be a non-empty sequence of layer widths, got {sizes!r}")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"OracleConfig.{name} must hold positive ints, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def ppo_kwargs(config: OracleConfig) -> dict[str, Any]:
    """The keyword arguments :func:`train_oracle` passes to :class:`stable_baselines3.PPO` (besides env/seed)."""
    return {
        "learning_rate": config.learning_rate,
        "n_steps": config.n_steps,
        "batch_size": config.batch_size,
        "n_epochs": config.n_epochs,
        "gamma": config.gamma,
        "gae_lambda": config.gae_lambda,
        "clip_range": config.clip_range,
        "ent_coef": config.ent_coef,
        "vf_coef": config.vf_coef,
        "max_grad_norm": config.max_grad_norm,
        "policy_kwargs": {
            "net_arch": {"pi": list(config.policy_hidden_sizes), "vf": list(config.value_hidden_sizes or ())},
            "activation_fn": torch.nn.ReLU,
            "log_std_init": config.log_std_init,
            "ortho_init": config.ortho_init,
        },
    }


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------
def make_training_vec_env(config: OracleConfig) -> VecEnv:
    """``config.n_envs`` oracle envs (:func:`make_oracle_env`, each in a ``Monitor``), vectorised by SB3's
    ``make_vec_env`` with seeds ``config.seed + i``, wrapped in ``VecNormalize`` when the config normalises."""
    vec_cls = DummyVecEnv if config.vec_env == "dummy" else SubprocVecEnv
    venv = make_vec_env(
        partial(make_oracle_env, config.env_id, config.env_kwargs),
        n_envs=config.n_envs,
        seed=config.seed,
        vec_env_cls=vec_cls,
    )
    if config.normalize_observations or config.normalize_rewards:
        venv = VecNormalize(
            venv,
            norm_obs=bool(config.normalize_observations),
            norm_reward=bool(config.normalize_rewards),
            gamma=float(config.gamma),  # type: ignore[arg-type]
        )
    return venv


class _ProgressCallback(BaseCallback):
    """A :func:`metarl.progress.progress` bar over environment steps (hidden off a terminal)."""

    def __init__(self, total: int, desc: str) -> None:
        super().__init__()
        self._total = total
        self._desc = desc
        self._bar: Any = None

    def _on_training_start(self) -> None:
        self._bar = progress(total=self._total, desc=self._desc, unit="step")

    def _on_step(self) -> bool:
        self._bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self._bar.close()


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar next to a legacy oracle zip: ``oracle.zip`` -> ``oracle.json``."""
    return Path(model_path).with_suffix(".json")


def _space_dims(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[int, int, int]:
    """(observation dim without the task, task dim, action dim) of ``env_id``."""
    env = make_oracle_env(env_id, env_kwargs)
    try:
        inner = env.env.observation_space
        full = env.observation_space
        assert isinstance(inner, spaces.Box) and isinstance(full, spaces.Box)
        assert isinstance(env.action_space, spaces.Box)
        return int(inner.shape[0]), int(full.shape[0] - inner.shape[0]), int(env.action_space.shape[0])
    finally:
        env.close()


def train_oracle(config: OracleConfig, out_path: str | os.PathLike[str]) -> Path:
    """Train the oracle with PPO and save it as ``out_path``, one ``.pt`` artifact (:func:`save_oracle`).

    The policy sees ``concat(obs, task_vector(task))`` with a fresh task every episode (MAML paper 5.3: "an oracle
    policy which receives the parameters of the task as input").  The artifact holds the policy weights, the
    resolved config, the training wall-clock time, the observation/task/action sizes, the observation-normalisation
    statistics (when used) and the mean return of the last 100 training episodes; it is written atomically.

    :param config: what to train (PPO presets already resolved by :class:`OracleConfig`).
    :param out_path: the artifact; must end in ``.pt``.
    :return: ``out_path`` as a :class:`~pathlib.Path`.
    """
    if not isinstance(config, OracleConfig):
        raise TypeError(f"config must be an OracleConfig, got {type(config).__name__}")
    out = Path(out_path)
    if out.suffix != ".pt":
        raise ValueError(f"out_path must end in .pt (the oracle artifact, loadable without unpickling code), got "
                         f"{str(out)!r}")
    obs_dim, task_dim, _ = _space_dims(config.env_id, config.env_kwargs)

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    venv = make_training_vec_env(config)
    try:
        model = PPO(
            "MlpPolicy",
            venv,
            seed=config.seed,
            device="cpu",
            verbose=config.verbose,
            tensorboard_log=str(out.parent / "tensorboard") if config.tensorboard else None,
            **ppo_kwargs(config),
        )
        started = time.perf_counter()
        model.learn(
            total_timesteps=int(config.total_timesteps),  # type: ignore[arg-type]
            callback=_ProgressCallback(int(config.total_timesteps), f"oracle PPO {config.env_id}"),  # type: ignore[arg-type]
        )
        wall_clock = time.perf_counter() - started
        normalization = None
        if isinstance(venv, VecNormalize) and venv.norm_obs:
            normalization = ObservationNormalization(
                mean=np.asarray(venv.obs_rms.mean, dtype=np.float64),
                var=np.asarray(venv.obs_rms.var, dtype=np.float64),
                epsilon=float(venv.epsilon),
                clip=float(venv.clip_obs),
            )
        episode_returns = [float(info["r"]) for info in model.ep_info_buffer or []]
    finally:
        venv.close()
        torch.set_num_threads(previous_threads)

    training = {
        "ppo_preset_source": PPO_PRESETS[config.family].source,
        "wall_clock_seconds": wall_clock,
        "timesteps": int(model.num_timesteps),
        "train_episode_return_mean_last_100": float(np.mean(episode_returns)) if episode_returns else None,
        "versions": {"metarl": _version("metarl"), "stable_baselines3": _version("stable-baselines3"),
                     "torch": str(torch.__version__), "gymnasium": str(gym.__version__)},
    }
    oracle = OraclePolicy(model.policy, config, obs_dim, task_dim, normalization, metadata=training)
    return save_oracle(oracle, out)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------------------------------------------
# Loading and acting
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObservationNormalization:
    """The running statistics of SB3's ``VecNormalize``: ``clip((o - mean) / sqrt(var + epsilon), -clip, clip)``."""

    mean: NDArray[np.float64]
    var: NDArray[np.float64]
    epsilon: float
    clip: float

    def apply(self, obs: NDArray[Any]) -> NDArray[np.float64]:
        """Normalise a batch of observations exactly as ``VecNormalize.normalize_obs`` does."""
        return np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip, self.clip)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "epsilon": self.epsilon, "clip": self.clip}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ObservationNormalization:
        """From :meth:`to_dict`'s lists (legacy JSON sidecars) or the artifact's float64 tensors."""
        return cls(
            mean=np.asarray(values["mean"], dtype=np.float64),
            var=np.asarray(values["var"], dtype=np.float64),
            epsilon=float(values["epsilon"]),
            clip=float(values["clip"]),
        )


class OraclePolicy:
    """A trained oracle: deterministic actions from observations with the task vector appended.

    Call :meth:`predict_fn` (or the object itself) with ``[B, observation_dim + task_dim]`` inputs laid out as
    :class:`envs.wrappers.TaskInObservation` produces them; it returns ``[B, action_dim]`` actions (the policy
    mean, clipped to the action space).

    :param policy: the SB3 actor-critic policy (``PPO(...).policy``).
    :param config: the training settings (architecture, env).
    :param normalization: observation statistics applied before the policy (``None``: none were used).
    :param metadata: how it was trained (wall-clock, timesteps, versions, ...).
    """

    def __init__(
        self,
        policy: ActorCriticPolicy,
        config: OracleConfig,
        observation_dim: int,
        task_dim: int,
        normalization: ObservationNormalization | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.config = config
        self.observation_dim = int(observation_dim)
        self.task_dim = int(task_dim)
        self.normalization = normalization
        self.metadata = dict(metadata or {})
        space = policy.action_space
        if not isinstance(space, spaces.Box):
            raise TypeError(f"the oracle needs a Box action space, the policy has {space!r}")
        self.action_space: spaces.Box = space
        policy_inputs = int(np.prod(policy.observation_space.shape))  # type: ignore[arg-type]
        if policy_inputs != self.input_dim:
            raise ValueError(
                f"the PPO policy takes {policy_inputs} inputs but observation_dim + task_dim = "
                f"{self.observation_dim} + {self.task_dim} = {self.input_dim}"
            )

    @property
    def input_dim(self) -> int:
        """Width of the input rows: observation followed by the task vector."""
        return self.observation_dim + self.task_dim

    @property
    def action_dim(self) -> int:
        return int(self.action_space.shape[0])

    def predict_fn(self, obs_with_task: NDArray[Any]) -> NDArray[np.float32]:
        """Deterministic actions ``[B, action_dim]`` for observations ``[B, observation_dim + task_dim]``."""
        obs = np.asarray(obs_with_task, dtype=np.float64)
        if obs.ndim != 2 or obs.shape[1] != self.input_dim:
            raise ValueError(
                f"oracle input must have shape [B, {self.input_dim}] (observation {self.observation_dim} + task "
                f"{self.task_dim} for {self.config.env_id}), got {obs.shape}; use obs[None] for a single row"
            )
        if not np.all(np.isfinite(obs)):
            raise ValueError("oracle input contains non-finite values")
        if self.normalization is not None:
            obs = self.normalization.apply(obs)
        actions, _ = self.policy.predict(obs.astype(np.float32), deterministic=True)
        return np.asarray(actions, dtype=np.float32).reshape(obs.shape[0], self.action_dim)

    __call__ = predict_fn


def save_oracle(oracle: OraclePolicy, path: str | os.PathLike[str]) -> Path:
    """Write ``oracle`` as one ``.pt`` artifact that loads without unpickling code: the policy's weights (tensors),
    its config, sizes and action bounds, the observation-normalisation statistics and the training metadata (plain
    data), through :func:`metarl.checkpoint.save_checkpoint` (atomic, SHA-256 checked on load, ``kind`` =
    :data:`ORACLE_KIND`)."""
    norm = oracle.normalization
    state = {
        "policy": {k: v.detach().clone() for k, v in oracle.policy.state_dict().items()},
        "config": oracle.config.to_dict(),
        "observation_dim": oracle.observation_dim,
        "task_dim": oracle.task_dim,
        "action_low": torch.as_tensor(oracle.action_space.low),
        "action_high": torch.as_tensor(oracle.action_space.high),
        "observation_normalization": None if norm is None else {
            "mean": torch.as_tensor(norm.mean), "var": torch.as_tensor(norm.var), "epsilon": norm.epsilon,
            "clip": norm.clip},
        "metadata": json.loads(json.dumps(oracle.metadata)),
    }
    save_checkpoint(path, state, kind=ORACLE_KIND)
    return Path(path)


def load_oracle(path: str | os.PathLike[str], *, trust_pickle: bool = False) -> OraclePolicy:
    """Load an oracle written by :func:`train_oracle` / :func:`save_oracle` (a ``.pt`` artifact, read with
    ``torch.load(weights_only=True)``: no code in the file runs).

    A stable-baselines3 zip of an earlier metarl (with its JSON sidecar) loads only with ``trust_pickle=True``:
    SB3 unpickles parts of the zip with cloudpickle, which runs whatever code the file's author put there, so do it
    only for files you trust — ideally once, with :func:`convert_legacy_oracle`.

    :raises FileNotFoundError: no file at ``path``; or a legacy zip's JSON sidecar is missing (without it the
        observation normalisation would silently be skipped).
    :raises ValueError: a legacy zip without ``trust_pickle``; a file that is no oracle (a
        :class:`~metarl.checkpoint.CheckpointError` for a damaged, foreign or unsafe ``.pt``).
    """
    model_path = Path(path)
    if not model_path.is_file():
        raise FileNotFoundError(f"no oracle model at {str(model_path)!r}")
    if is_legacy_oracle_zip(model_path):
        if not trust_pickle:
            raise ValueError(
                f"{str(model_path)!r} is a stable-baselines3 zip: loading it unpickles code from the file (cloudpickle),"
                " which can run anything its author wrote. If you trust its source, load it with trust_pickle=True "
                "(--trust-pickle) or convert it once with agents.oracle.convert_legacy_oracle"
            )
        return _load_legacy_zip(model_path)
    state = load_checkpoint(model_path, expected_kind=ORACLE_KIND)
    config = OracleConfig.from_dict(state["config"])
    obs_dim, task_dim = int(state["observation_dim"]), int(state["task_dim"])
    policy = _build_policy(config, obs_dim + task_dim, state["action_low"].numpy(), state["action_high"].numpy())
    try:
        policy.load_state_dict(state["policy"])
    except RuntimeError as exc:
        raise CheckpointError(model_path, f"policy weights do not fit its config: {exc}") from None
    norm = state["observation_normalization"]
    return OraclePolicy(policy, config, obs_dim, task_dim,
                        None if norm is None else ObservationNormalization.from_dict(norm), metadata=state["metadata"])


def _build_policy(config: OracleConfig, input_dim: int, action_low: NDArray[Any],
                  action_high: NDArray[Any]) -> ActorCriticPolicy:
    """A fresh SB3 actor-critic of ``config``'s architecture, built as ``PPO("MlpPolicy", ...)`` builds it."""
    observation_space = spaces.Box(-np.inf, np.inf, shape=(input_dim,), dtype=np.float32)
    action_space = spaces.Box(np.asarray(action_low, np.float32), np.asarray(action_high, np.float32),
                              dtype=np.float32)
    policy = ActorCriticPolicy(observation_space, action_space, lambda _: 0.0,
                               **ppo_kwargs(config)["policy_kwargs"])
    return policy.eval()


def is_legacy_oracle_zip(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a stable-baselines3 model zip (read as a zip listing only; nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return "data" in names and "policy.pth" in names


def _load_legacy_zip(model_path: Path) -> OraclePolicy:
    """A legacy SB3 zip and its JSON sidecar, unpickled (the caller allowed it): warns, and refuses a zip without
    its sidecar (its observation normalisation would be lost)."""
    warnings.warn(f"unpickling the stable-baselines3 zip {str(model_path)!r} (trust_pickle): code in the file runs; "
                  "convert it with agents.oracle.convert_legacy_oracle to load it safely from now on", stacklevel=3)
    side = sidecar_path(model_path)
    if not side.is_file():
        raise FileNotFoundError(
            f"the oracle sidecar {str(side)!r} is missing: a legacy oracle zip needs it for its observation "
            "normalisation and settings (without them the policy would act on unnormalised observations)"
        )
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{str(side)!r} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != ORACLE_KIND:
        found = meta.get("kind") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{str(side)!r} is not an oracle sidecar (kind {found!r}, expected {ORACLE_KIND!r})")
    if meta.get("format_version") != SIDECAR_VERSION:
        raise ValueError(
            f"{str(side)!r} has format_version {meta.get('format_version')!r}; this metarl reads {SIDECAR_VERSION}"
        )
    config = OracleConfig.from_dict(meta["config"])
    try:
        model = PPO.load(model_path, device="cpu")
    except Exception as exc:  # SB3 raises zipfile/pickle/KeyError variants for a damaged file
        raise ValueError(f"{str(model_path)!r} is not a stable-baselines3 PPO model: {exc}") from exc
    normalization = meta.get("observation_normalization")
    training = {k: meta[k] for k in ("ppo_preset_source", "wall_clock_seconds", "timesteps",
                                     "train_episode_return_mean_last_100", "versions") if k in meta}
    training["converted_from"] = model_path.name
    return OraclePolicy(
        model.policy,
        config,
        observation_dim=meta["observation_dim"],
        task_dim=meta["task_dim"],
        normalization=None if normalization is None else ObservationNormalization.from_dict(normalization),
        metadata=training,
    )


def convert_legacy_oracle(zip_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Path:
    """Convert a legacy SB3 oracle zip (+ its JSON sidecar) into the ``.pt`` artifact of :func:`save_oracle`.

    Unpickles the zip (warning): run it once, on a file you trust; the artifact acts identically and loads safely.
    """
    if Path(out_path).suffix != ".pt":
        raise ValueError(f"out_path must end in .pt, got {str(out_path)!r}")
    return save_oracle(load_oracle(zip_path, trust_pickle=True), out_path)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------
def evaluate_oracle(
    oracle: Callable[[NDArray[Any]], NDArray[Any]],
    env_id: str,
    tasks: Sequence[Any],
    rollouts_per_task: int | None = None,
    seed: int = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    max_envs: int = 1024,
) -> NDArray[np.float64]:
    """Mean undiscounted return of ``oracle`` on each task, from batched rollouts.

    Runs ``len(tasks) * rollouts_per_task`` episodes in ``gymnasium.make_vec(env_id, num_envs=B)`` (autoreset
    disabled: done stays done), at most ``max_envs`` at a time.  Every step the observations get the sub-envs' task
    vectors appended (:class:`envs.wrappers.TaskInObservationVector`, the batched twin of the wrapper the oracle
    was trained with), ``oracle`` maps them to actions, which are clipped to the action space, and each episode's
    rewards are summed until it terminates or is truncated.  Sub-env ``i`` (task-major order) is reset with seed
    ``seed + i`` whatever ``max_envs`` is.

    :param oracle: ``[B, obs + task] -> [B, act]``, e.g. :meth:`OraclePolicy.predict_fn` or a scripted policy.
    :param env_id: the batched env to evaluate on.
    :param tasks: the held-out tasks (validated by the env).
    :param rollouts_per_task: episodes per task; ``None`` = the paper's evaluation count (40 nav, 20 locomotion).
    :param seed: base reset seed (int >= 0).
    :return: per-task mean returns, shape ``(len(tasks),)``.
    """
    if not callable(oracle):
        raise TypeError(f"oracle must be callable [B, obs + task] -> [B, act], got {type(oracle).__name__}")
    if isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence) or len(tasks) == 0:
        raise ValueError(f"tasks must be a non-empty sequence of tasks, got {tasks!r}")
    if rollouts_per_task is None:
        rollouts_per_task = paper_settings.eval_rollouts(env_id)
    for name, value, low in (("rollouts_per_task", rollouts_per_task, 1), ("seed", seed, 0), ("max_envs", max_envs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    tasks_per_batch = max(1, max_envs // rollouts_per_task)
    returns = np.empty(len(tasks), dtype=np.float64)
    for start in range(0, len(tasks), tasks_per_batch):
        chunk = list(tasks[start:start + tasks_per_batch])
        episode_returns = _rollout_returns(
            oracle, env_id, chunk, rollouts_per_task, seed + start * rollouts_per_task, dict(env_kwargs or {})
        )
        returns[start:start + len(chunk)] = episode_returns.reshape(len(chunk), rollouts_per_task).mean(axis=1)
    return returns


def _rollout_returns(
    oracle: Callable[[NDArray[Any]], NDArray[Any]],
    env_id: str,
    tasks: list[Any],
    rollouts_per_task: int,
    seed: int,
    env_kwargs: dict[str, Any],
) -> NDArray[np.float64]:
    """Returns of ``rollouts_per_task`` episodes per task, task-major, through the shared batched sampler
    (:func:`metarl.rl.sampler.collect_episodes`: one batched env, actions clipped to the action space, done stays
    done); the oracle sees each observation with its task vector appended, as :class:`TaskInObservation` does."""
    stepper = LocalVectorStepper(env_id, len(tasks) * rollouts_per_task, env_kwargs)
    try:
        if not callable(getattr(stepper.env.unwrapped, "task_vector", None)):
            raise TypeError(f"evaluate_oracle needs the env's task_vector(task) (the oracle observes the task); "
                            f"{env_id!r} has none")
        if stepper.max_episode_steps is None:
            raise ValueError(f"{env_id} has no max_episode_steps; evaluate_oracle needs a finite horizon")
        vectors = np.stack([stepper.env.unwrapped.task_vector(t) for t in tasks]).astype(np.float64)
        input_dim = stepper.observation_dim + vectors.shape[1]
        expected_inputs = getattr(oracle, "input_dim", None)
        if expected_inputs is not None and int(expected_inputs) != input_dim:
            raise ValueError(
                f"the oracle takes inputs of width {expected_inputs} but {env_id} gives observation + task = "
                f"{input_dim}; was it trained on another env?"
            )
        n_tasks, act_dim = len(tasks), stepper.action_dim
        obs_dtype = stepper.env.single_observation_space.dtype

        def act(obs: torch.Tensor) -> torch.Tensor:  # [N, R, obs_dim] -> [N, R, act_dim]
            task_part = np.broadcast_to(vectors[:, None, :], (n_tasks, rollouts_per_task, vectors.shape[1]))
            inputs = np.concatenate([obs.numpy(), task_part], axis=-1).astype(obs_dtype)
            actions = np.asarray(oracle(inputs.reshape(n_tasks * rollouts_per_task, input_dim)), dtype=np.float64)
            if actions.shape != (n_tasks * rollouts_per_task, act_dim):
                raise ValueError(
                    f"oracle returned actions of shape {actions.shape}, expected "
                    f"{(n_tasks * rollouts_per_task, act_dim)} for {env_id}"
                )
            if not np.all(np.isfinite(actions)):
                raise ValueError(f"oracle returned non-finite actions for {env_id}")
            return torch.from_numpy(actions).view(n_tasks, rollouts_per_task, act_dim)

        episodes = collect_episodes(
            stepper, tasks, rollouts_per_task, act, stepper.max_episode_steps, seed, dtype=torch.float64
        )
        return episodes.episode_returns().reshape(-1).numpy()
    finally:
        stepper.close()
