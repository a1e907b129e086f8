"""The seed's classifier: stacked LSTMs read the sequence, the last hidden state picks the class.

Keras counts 24,778 parameters for the seed model, PyTorch 25,162: a Keras LSTM layer has one
bias vector of 4 x hidden, PyTorch's has two (``bias_ih`` and ``bias_hh``): 3 layers x 128 = 384.
"""

import math
from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

from lstm_mnist.core.errors import require


class LSTMClassifier(L.LightningModule):
    """Stacked LSTM over (batch, steps, features) sequences, then Linear(hidden, classes)."""

    def __init__(
        self,
        input_size: int = 28,
        hidden_size: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
        num_classes: int = 10,
        init: Literal["pytorch", "keras", "chrono"] = "pytorch",
        readout: Literal["last", "mean"] = "last",
        label_smoothing: float = 0.0,
        bidirectional: bool = False,
        row_hidden_size: int = 0,
        seq_len: int = 28,
    ) -> None:
        """Build the LSTM stack and its head; the CLI shows each setting in --help.

        Args:
            input_size: Features per time step; under the CLI it is linked to the data module's
                ``input_size`` (28 + pad_width for rows), so configs never state it.
            hidden_size: Units per LSTM layer (the seed: 32).
            num_layers: Stacked LSTM layers (the seed: 3).
            dropout: Dropout between LSTM layers (0 = none, like the seed).
            num_classes: Output classes; linked to the data module.
            init: ``pytorch`` (uniform +-1/sqrt(hidden) everywhere) or ``keras``, the seed's:
                Glorot-uniform input and output weights, orthogonal recurrent weights, zero
                biases but 1 for the forget gate (so early on the cell remembers by default);
                or ``chrono``: Keras' weights with chrono gate biases (Tallec & Ollivier, 2018),
                forget bias log(U(1, seq_len - 1)) and input bias its negative, so that units
                remember over spans up to the whole sequence (for 784-step pixel sequences).
            readout: What the head reads: ``last``, the last step's hidden state (the seed), or
                ``mean``, the mean over all steps (every row then gets a direct gradient).
            label_smoothing: Training targets put this much probability evenly on all classes
                (0 = one-hot, the seed); validation and test losses stay plain cross-entropy.
            bidirectional: Each layer also reads the sequence backwards (bottom row first) and
                the head reads both directions' summaries; twice the parameters per unit.
            row_hidden_size: Hierarchical reading: with N > 0, an LSTM(N) first reads each time
                step's features one at a time (a row's pixels, left to right) and the stack then
                reads its N-feature summary of each row beside the row itself (0 = off).
            seq_len: Time steps per sequence; under the CLI it is linked to the data module's
                ``seq_len`` (28 for rows, 784 for pixels). Sets the chrono init's range and the
                TensorBoard graph's example input.
        """
        super().__init__()
        require(
            row_hidden_size >= 0, "model", "row_hidden_size", row_hidden_size, "must be 0 or more"
        )
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
            ("num_classes", num_classes),
            ("seq_len", seq_len),
        ):
            require(value >= 1, "model", name, value, "must be at least 1")
        require(0.0 <= dropout < 1.0, "model", "dropout", dropout, "must be in [0, 1)")
        require(
            0.0 <= label_smoothing < 1.0,
            "model",
            "label_smoothing",
            label_smoothing,
            "must be in [0, 1)",
        )
        self.save_hyperparameters()
        self.row_reader = nn.LSTM(1, row_hidden_size, batch_first=True) if row_hidden_size else None
        self.lstm = nn.LSTM(
            input_size + row_hidden_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)
        if init in ("keras", "chrono"):
            keras_init(self.lstm, self.head)
            if self.row_reader is not None:
                keras_init(self.row_reader)
        if init == "chrono":
            chrono_init(self.lstm, seq_len)
        # Accuracy as Keras reports it: the fraction of digits right ("micro"). torchmetrics'
        # default, "macro", averages the per-class recalls instead.
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        # Detached outputs of the training steps since the last logging step (see training_step)
        self._train_logits: list[torch.Tensor] = []
        self._train_labels: list[torch.Tensor] = []
        self._train_losses: list[torch.Tensor] = []
        self.example_input_array = torch.zeros(1, seq_len, input_size)  # the TensorBoard graph

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Class logits (batch, classes) for float sequences (batch, steps, features).

        For several views of each sample (views, batch, steps, features), such as the data
        module's test-time shifts, the log of the views' mean class probabilities: logits whose
        softmax is that mean, so that accuracy, loss and predict read the averaged answer.
        """
        if sequences.dim() == 4:
            views, batch = sequences.shape[:2]
            log_probs = self(sequences.flatten(0, 1)).log_softmax(dim=-1)
            return log_probs.unflatten(0, (views, batch)).logsumexp(dim=0) - math.log(views)
        outputs = self._read(sequences)
        if self.hparams.readout == "mean":
            return self.head(outputs.mean(dim=1))
        if self.hparams.bidirectional:
            # The backward direction has read the whole sequence when it reaches step 0.
            hidden = self.hparams.hidden_size
            return self.head(torch.cat([outputs[:, -1, :hidden], outputs[:, 0, hidden:]], dim=1))
        return self.head(outputs[:, -1])

    def running_probabilities(self, sequences: torch.Tensor) -> torch.Tensor:
        """Class probabilities after each time step (batch, steps, classes).

        The answer the model would give had the sequence ended there, i.e. its running guess while
        reading: with the ``mean`` readout, the head reads the mean of the steps so far. A
        bidirectional model reads each prefix anew (its backward direction starts at the end).
        """
        if self.hparams.bidirectional:
            steps = range(1, sequences.shape[1] + 1)
            return torch.stack([self(sequences[:, :t]).softmax(dim=-1) for t in steps], dim=1)
        outputs = self._read(sequences)
        if self.hparams.readout == "mean":
            steps = torch.arange(1, outputs.shape[1] + 1, device=outputs.device)
            outputs = outputs.cumsum(dim=1) / steps[:, None]
        return self.head(outputs).softmax(dim=-1)

    def _read(self, sequences: torch.Tensor) -> torch.Tensor:
        """The stack's outputs at every step (batch, steps, hidden x directions)."""
        return self.lstm(self.stack_input(sequences))[0]

    def stack_input(self, sequences: torch.Tensor) -> torch.Tensor:
        """What the LSTM stack reads: the sequences, beside each step's row summary if any."""
        if self.row_reader is None:
            return sequences
        batch, steps, features = sequences.shape
        _, (summary, _) = self.row_reader(sequences.reshape(batch * steps, features, 1))
        return torch.cat([sequences, summary[-1].view(batch, steps, -1)], dim=-1)

    @override
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        logits, labels, loss = self._logits_and_loss(batch, self.hparams.label_smoothing)
        # Each step only keeps its detached outputs; the accuracy update and the train/loss log
        # run once per log_every_n_steps steps, on the steps where Lightning writes logs. Done
        # every step, torchmetrics' update alone costs ~0.3 ms of this model's ~10-12 ms step;
        # batched, update and log together ~0.03-0.05 ms a step (docs/performance.md).
        self._train_logits.append(logits.detach())
        self._train_labels.append(labels)
        self._train_losses.append(loss.detach())
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self._update_train_accuracy()
            # Logged from host memory: Lightning turns each progress-bar value into a number at
            # every step, not only when it changes, and on a GPU that .item() would wait for all
            # the GPU's queued work. One copy per logging step waits once instead.
            self.log("train/loss", torch.stack(self._train_losses).mean().cpu(), prog_bar=True)
            self._train_losses.clear()
        return loss

    @override
    def validation_step(self, batch, batch_idx: int) -> None:
        self._log_eval_loss("val", self._step(batch, self.val_acc), len(batch[1]))

    @override
    def test_step(self, batch, batch_idx: int) -> None:
        self._log_eval_loss("test", self._step(batch, self.test_acc), len(batch[1]))

    @override
    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        sequences, _ = batch
        probs = self(sequences).softmax(dim=-1)
        return {"pred": probs.argmax(dim=-1), "probs": probs}

    @override
    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The seed's optimizer, RMSprop lr 1e-3, for use outside the CLI; LightningCLI replaces it
        # with the config's optimizer and lr_scheduler (or --optimizer, --lr_scheduler).
        return torch.optim.RMSprop(self.parameters(), lr=1e-3)

    def _update_train_accuracy(self) -> None:
        if self._train_logits:
            self.train_acc.update(torch.cat(self._train_logits), torch.cat(self._train_labels))
            self._train_logits.clear()
            self._train_labels.clear()

    def _logits_and_loss(
        self, batch, label_smoothing: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sequences, labels = batch
        logits = self(sequences)
        return logits, labels, F.cross_entropy(logits, labels, label_smoothing=label_smoothing)

    def _step(self, batch, accuracy: MulticlassAccuracy) -> torch.Tensor:
        logits, labels, loss = self._logits_and_loss(batch)
        accuracy.update(logits.detach(), labels)
        return loss

    def _log_eval_loss(self, stage: str, loss: torch.Tensor, batch_size: int) -> None:
        # The epoch mean, weighted by batch size (the labels': a test-time-shifted batch's first
        # dimension counts views) and averaged across ranks.
        name = f"{stage}/loss"
        self.log(name, loss, on_epoch=True, sync_dist=True, prog_bar=True, batch_size=batch_size)

    @override
    def on_train_epoch_start(self) -> None:
        # train/acc counts this epoch's steps only, none from an epoch that was interrupted (a
        # fit stopped mid-epoch). The train/loss window spans epochs, as log_every_n_steps does.
        self._train_logits.clear()
        self._train_labels.clear()
        self.train_acc.reset()

    # Accuracy is logged once per epoch (a self.log call costs, see training_step).
    @override
    def on_train_epoch_end(self) -> None:
        self._update_train_accuracy()  # the steps since the last logging step
        self.log("train/acc", self.train_acc, prog_bar=True)

    @override
    def on_validation_epoch_end(self) -> None:
        self.log("val/acc", self.val_acc, prog_bar=True)

    @override
    def on_test_epoch_end(self) -> None:
        self.log("test/acc", self.test_acc, prog_bar=True)


def keras_init(lstm: nn.LSTM, head: nn.Linear | None = None) -> None:
    """Keras' defaults for LSTM and Dense.

    Keras draws each layer's kernel (inputs x 4 gates) and recurrent kernel (hidden x 4 gates) as
    one matrix, so the same is done here on the stacked gate weights; PyTorch's gate order is input,
    forget, cell, output.
    """
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(param)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(param)
            else:  # bias_ih (one forget-gate bias of 1, as in Keras' single bias) and bias_hh
                param.zero_()
                if name.startswith("bias_ih"):
                    param[hidden : 2 * hidden] = 1.0
        if head is not None:
            nn.init.xavier_uniform_(head.weight)
            head.bias.zero_()


def chrono_init(lstm: nn.LSTM, seq_len: int) -> None:
    """Chrono initialisation (Tallec & Ollivier, "Can recurrent neural networks warp time?", 2018).

    A forget bias b_f = log(u), u ~ U(1, seq_len - 1), makes a unit's memory last about u steps
    at the start; the input bias -b_f keeps what enters small in proportion. With Keras' fixed
    forget bias of 1 every unit forgets within a few steps, too soon for 784 pixels.
    """
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("bias_ih"):  # bias_hh stays 0: the two are added
                forget = torch.log(torch.empty(hidden).uniform_(1, max(2, seq_len - 1)))
                param[:hidden] = -forget
                param[hidden : 2 * hidden] = forget
