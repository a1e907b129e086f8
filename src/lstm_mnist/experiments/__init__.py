"""``lstm-mnist experiments``: grids of configs x seeds, run and tabulated into results/."""

from lstm_mnist.experiments.runner import run_grid

__all__ = ["run_grid"]
