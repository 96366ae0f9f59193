"""Supervised meta-learning on the :mod:`metarl.maml` core: task batches, task distributions and the batched
supervised meta-learner (MAML Alg. 2, Finn et al. 2017) shared by regression and classification."""

from metarl.supervised.learner import (
    AdaptationCurve,
    AdaptedPredictor,
    FitResult,
    MetaLearnerConfig,
    MetaLoss,
    SupervisedMetaLearner,
    TaskLoss,
    TuningResult,
    accuracy_task_metric,
    check_batchable,
    cross_entropy_task_loss,
    mse_task_loss,
    tune_step_size,
)
from metarl.supervised.tasks import (
    SINUSOID_EVAL_QUERY,
    SINUSOID_EVAL_TASKS,
    SinusoidEvaluationSet,
    SinusoidParams,
    SinusoidTasks,
    TaskBatch,
    TaskSource,
    with_task_inputs,
)

__all__ = [
    "SINUSOID_EVAL_QUERY",
    "SINUSOID_EVAL_TASKS",
    "AdaptationCurve",
    "AdaptedPredictor",
    "FitResult",
    "MetaLearnerConfig",
    "MetaLoss",
    "SinusoidEvaluationSet",
    "SinusoidParams",
    "SinusoidTasks",
    "SupervisedMetaLearner",
    "TaskBatch",
    "TaskLoss",
    "TaskSource",
    "TuningResult",
    "accuracy_task_metric",
    "check_batchable",
    "cross_entropy_task_loss",
    "mse_task_loss",
    "tune_step_size",
    "with_task_inputs",
]
