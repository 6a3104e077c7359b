"""Data-parallel training across the hosts in ``SM_HOSTS``: torch.distributed over gloo (it runs on CPU
hosts and GPU hosts alike), one process per host, rank = position of ``SM_CURRENT_HOST`` in the list."""

from datetime import timedelta

import torch
import torch.distributed as dist

from classifier.training.config import TrainConfig

_CONNECT_TIMEOUT = timedelta(minutes=10)
"""Hosts of one job start within seconds of each other; a host missing for minutes is not coming."""


def start(config: TrainConfig) -> bool:
    """Join the job's process group when it has more than one host; True when distributed."""
    if len(config.hosts) == 1:
        return False
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{config.master_addr}:{config.master_port}",
        rank=config.rank,
        world_size=len(config.hosts),
        timeout=_CONNECT_TIMEOUT,
    )
    return True


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def sum_across_hosts(values: list[float]) -> list[float]:
    """Element-wise sums over all hosts (the values themselves when training on one host)."""
    if not dist.is_initialized():
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()
