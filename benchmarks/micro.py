"""The per-step costs README "Performance" quotes, each timed alone (microseconds per call).

    python benchmarks/micro.py

Best of 3 repeats of many calls each, on batch-128 tensors shaped like this project's:
the batch gather, torchmetrics' accuracy update, Lightning's callback dispatch, the optimizer
step with and without ``foreach``, torch's CUDA check with Lightning's NVML setting, and a whole
training step of the model, eager and under ``torch.compile``.
"""

import argparse
import os
import timeit
import warnings

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.trainer import call
from torchmetrics.classification import MulticlassAccuracy

from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.model import LSTMClassifier
from lstm_mnist.nvml import VARIABLE

warnings.filterwarnings("ignore")
BATCH = 128
CALLS_SCALE = 1.0  # --calls-scale: fewer calls per measurement (the test's quick run)


def microseconds(function, number: int = 2000) -> float:
    number = max(1, round(number * CALLS_SCALE))
    return 1e6 * min(timeit.repeat(function, number=number, repeat=3)) / number


def gather() -> dict[str, float]:
    images = torch.randint(0, 256, (55_000, 28, 28), dtype=torch.uint8)
    indices = torch.randperm(55_000)[:BATCH].tolist()  # what the sampler hands over
    index = torch.as_tensor(indices)
    return {
        "index list -> tensor, torch.as_tensor": microseconds(lambda: torch.as_tensor(indices)),
        "index list -> tensor, np.fromiter": microseconds(
            lambda: torch.from_numpy(np.fromiter(indices, np.int64, len(indices)))
        ),
        "gather 128 uint8 images, images[index]": microseconds(lambda: images[index]),
        "gather 128 uint8 images, index_select": microseconds(
            lambda: images.index_select(0, index)
        ),
    }


def accuracy_update() -> dict[str, float]:
    logits, labels = torch.randn(BATCH, 10), torch.randint(0, 10, (BATCH,))
    times = {}
    for name, kwargs in [
        ("macro (torchmetrics' default)", {}),
        ("micro", {"average": "micro"}),
        ("micro, validate_args=False", {"average": "micro", "validate_args": False}),
    ]:
        metric = MulticlassAccuracy(10, **kwargs)
        times[f"accuracy update, {name}"] = microseconds(lambda m=metric: m.update(logits, labels))
    return times


def callback_dispatch() -> dict[str, float]:
    def per_hook_call(callbacks: list[Callback]) -> float:
        trainer = L.Trainer(
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
            enable_model_summary=False,
            enable_progress_bar=False,
        )
        model = BoringModel()
        trainer.strategy.connect(model)
        return microseconds(lambda: call._call_callback_hooks(trainer, "on_before_backward", None))

    none = per_hook_call([])
    plain = (per_hook_call([Callback() for _ in range(5)]) - none) / 5
    checkpoints = [ModelCheckpoint(monitor="val/acc"), ModelCheckpoint(filename="last")]
    checkpoint = (per_hook_call(checkpoints) - none) / 2
    return {
        "callback dispatch, per no-op callback and hook": plain,
        "callback dispatch, per ModelCheckpoint and hook": checkpoint,
    }


def optimizer_step() -> dict[str, float]:
    times = {}
    for optimizer, lr in ((torch.optim.RMSprop, 1e-3), (torch.optim.Adam, 3e-3)):
        for foreach in (False, True):
            model = LSTMClassifier()
            for parameter in model.parameters():
                parameter.grad = torch.randn_like(parameter)
            step = optimizer(model.parameters(), lr=lr, foreach=foreach).step
            step()
            times[f"{optimizer.__name__}.step, foreach={foreach}"] = microseconds(step, 300)
    return times


def cuda_check() -> dict[str, float]:
    before = os.environ.get(VARIABLE)
    times = {}
    for setting in ("1", None):
        if setting is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = setting
        label = f"{VARIABLE}={setting}" if setting else f"{VARIABLE} unset"
        times[f"torch.cuda.is_available(), {label}"] = microseconds(torch.cuda.is_available)
    if before is not None:
        os.environ[VARIABLE] = before
    return times


def training_step() -> dict[str, float]:
    """Forward, backward and RMSprop step of the seed model on one batch, eager and compiled
    (torch.compile's default inductor backend; compiled before the timing)."""
    sequences, labels = torch.rand(BATCH, 28, 28), torch.randint(0, 10, (BATCH,))
    times = {}
    for name, compiled in (("eager", False), ("torch.compile", True)):
        model = LSTMClassifier()
        optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        forward = torch.compile(model) if compiled else model

        def step(forward=forward, optimizer=optimizer):
            loss = F.cross_entropy(forward(sequences), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()
        times[f"training step, {name}"] = microseconds(step, 50)
    return times


def main() -> None:
    global CALLS_SCALE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls-scale", type=float, default=1.0, help="times the calls timed")
    CALLS_SCALE = parser.parse_args().calls_scale
    keep_freed_memory()  # as lstm-mnist does at start (the training step's buffers)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| measurement | us per call |\n|---|---|")
    parts = (gather, accuracy_update, callback_dispatch, optimizer_step, cuda_check)
    for part in (*parts, training_step):
        for name, value in part().items():
            print(f"| {name} | {value:.1f} |", flush=True)


if __name__ == "__main__":
    main()
