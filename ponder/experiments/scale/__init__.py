"""Running sweeps beyond one process: shard jobs (`ShardJob`, `run_shard`) and the Ray executor.

`RayExecutor` and `RaySettings` import Ray only when a sweep runs (the `ray` extra).
"""

from ponder.experiments.scale.ray_executor import RayExecutor, RaySettings
from ponder.experiments.scale.shard_job import ShardJob, TaskDelta, run_shard

__all__ = ["RayExecutor", "RaySettings", "ShardJob", "TaskDelta", "run_shard"]
