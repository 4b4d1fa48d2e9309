"""The Solver: minibatch training with per-epoch evaluation, checkpoints and exact resume."""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.fast.multi_tensor import MultiTensorUpdate
from bnlab.fast.optim import UPDATE_RULES as FAST_RULES
from bnlab.fast.ufunc_buffer import small_ufunc_buffer
from bnlab.layers.checks import OverflowInNormalization
from bnlab.solver.arguments import (
    DATA_KEYS,
    check_checkpoint_name,
    check_class_labels,
    check_count,
    check_data,
    check_examples,
    check_finite,
    check_hyperparameters,
    check_label_range,
    check_same_data,
    describe_data,
    make_rng,
    refuse_unknown,
    resolve_update_rule,
    same_update_rule,
)
from bnlab.solver.checkpoint import (
    SETTINGS,
    CheckpointWriteError,
    checkpoint_path,
    claim_prefix,
    load_checkpoint,
    make_checkpoint,
    new_run_id,
    write_checkpoint,
)
from bnlab.solver.optim import UpdateRule
from bnlab.solver.progress import check_progress, progress_bar

NOT_KEYWORDS = ("self", "model", "data", "unknown")
RUNNING = ("running_mean", "running_var")  # the state in model.bn_params that training changes


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; ``epoch``, ``iteration`` and ``loss`` say where.

    By the time it is raised the model holds the best params so far, and the Solver keeps its
    histories (the last loss_history entry is the non-finite loss). A normalisation layer whose
    mean or variance overflowed (:class:`~bnlab.layers.checks.OverflowInNormalization`, then
    the ``__cause__``) counts as an infinite loss: the activations outgrew the dtype.
    """

    def __init__(self, message: str, epoch: int, iteration: int, loss: float) -> None:
        super().__init__(message)
        self.epoch, self.iteration, self.loss = epoch, iteration, loss


class Solver:
    """Trains a model by minibatch gradient descent, as cs231n's Solver does.

    Model API (all the Solver relies on):
    - ``model.params``: dict name -> ndarray (W1, b1, gamma1, beta1, ...), updated in place;
      with a rule given by name, the small params (biases, gamma, beta, narrow weights) are
      replaced after the first step by views into one flat buffer, updated together
      (:mod:`bnlab.fast.multi_tensor`): read them through ``model.params``, not a reference
      kept from before training
    - ``model.loss(X, y=None)``: scores (test mode) when y is None; else ``(loss, grads)``
      (train mode) with ``grads`` keyed like ``params``
    - optional ``model.loss_type``: 'softmax', 'svm' or 'mse'. With 'mse' (regression) the
      per-epoch metric is the mean squared error and the best params are those with the LOWEST
      validation MSE; otherwise it is accuracy, highest wins. ``solver.metric_name`` says which.
    Normalisation running statistics live in the model object, so checkpoints capture them.

    The metric's names are neutral (:meth:`check_metric`, ``train_metric_history``,
    ``val_metric_history``, ``best_val_metric``); cs231n's names (``check_accuracy``,
    ``train_acc_history``, ``val_acc_history``, ``best_val_acc``) are aliases, and the
    checkpoint keeps cs231n's keys.

    data: dict with X_train (N, ...), y_train (N, ...), X_val (N_val, ...), y_val (N_val, ...);
    other keys (X_test, ...) are ignored.

    Keywords (cs231n's, with its defaults):
    - update_rule: a name from :mod:`bnlab.solver.optim` ('sgd', 'sgd_momentum', 'rmsprop',
      'adam'), which runs that rule's in-place twin from :mod:`bnlab.fast.optim`, or a callable
      with the same contract ``rule(w, dw, config) -> (next_w, config)``, used as is
    - optim_config: hyperparameters for the rule; each parameter gets its own deep copy
    - lr_decay: learning_rate is multiplied by this at the end of every epoch
    - batch_size, num_epochs: num_epochs counts from the start of training, also on resume
    - num_train_samples: the train metric is measured on this many examples (None: all)
    - num_val_samples: likewise for validation (None: all)
    - checkpoint_name: if given, write ``'%s_epoch_%d.pkl' % (checkpoint_name, epoch)`` after
      every epoch (see :mod:`bnlab.solver.checkpoint`). Each run has an identity
      (``run_id``, random, kept on resume) written into its checkpoints: ``train()`` refuses a
      prefix that already holds another run's checkpoints, so two runs never mix, and first
      deletes the temporary files that killed runs left with this prefix
    - print_every: print ``(Iteration i / n) loss: ...`` every this many iterations
    - verbose: print anything at all
    And bnlab's:
    - seed: an int or an ``np.random.Generator``: the minibatch order and the metric
      subsamples come from it alone, never from NumPy's global state. Without one, both come
      from NumPy's global generator, the minibatches drawn as cs231n draws them
      (``np.random.choice(num_train, batch_size)``, with replacement), so that
      ``np.random.seed`` reproduces a cs231n notebook's run (a resumed run continues from
      the generator state in its checkpoint, sampling as with a seed)
    - progress: True (tqdm's bar per epoch when verbose, on a terminal or in Jupyter; see
      :mod:`bnlab.solver.progress`) or False
    - checkpoint_overwrite: delete another run's checkpoints under checkpoint_name instead of
      refusing them

    The data is checked once, here: NaN or inf in any array, and for a classifier labels
    outside [0, C), C being the width of the model's scores, raise ValueError.

    Sampling (with a seed): each epoch visits a fresh permutation of the training set,
    batch_size examples at a time, for ``max(N // batch_size, 1)`` iterations, so no example
    repeats within an epoch (cs231n samples with replacement). Metrics are recorded once before
    training (epoch 0, the untrained model; cs231n measures after the first iteration) and after
    every epoch.

    To continue an interrupted run use :meth:`Solver.resume`. There is no ``resume=`` keyword:
    the checkpoint carries the model (params and running statistics), so a model passed
    alongside it would have to be silently ignored.
    """

    def __init__(
        self,
        model: Any,
        data: Mapping[str, np.ndarray],
        *,
        update_rule: str | UpdateRule = "sgd",
        optim_config: dict[str, Any] | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        checkpoint_name: str | os.PathLike | None = None,
        print_every: int = 10,
        verbose: bool = True,
        seed: int | np.random.Generator | None = None,
        progress: bool | str = True,
        checkpoint_overwrite: bool = False,
        **unknown: Any,
    ) -> None:
        if unknown:
            signature = inspect.signature(Solver.__init__).parameters
            refuse_unknown(unknown, [name for name in signature if name not in NOT_KEYWORDS])
        if not isinstance(getattr(model, "params", None), dict) or not callable(
            getattr(model, "loss", None)
        ):
            raise TypeError(
                "model must have a params dict and a loss(X, y=None) method, "
                f"got {type(model).__name__}"
            )
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val = check_data(data)
        self.metric_name = "mse" if getattr(model, "loss_type", None) == "mse" else "accuracy"
        check_finite(data)
        if self.metric_name == "accuracy":
            check_class_labels(self.y_train, self.y_val)
            # the cleanest source of C: the scores themselves (test mode, no state changes)
            scores = np.asarray(model.loss(self.X_val[:1]))
            if scores.ndim == 2:
                check_label_range(self.y_train, self.y_val, scores.shape[1])

        self.update_rule_name, self.update_rule = resolve_update_rule(update_rule)
        # A named (fast) rule updates the small params in one call (bnlab.fast.multi_tensor).
        self._multi_tensor = (
            MultiTensorUpdate(self.update_rule_name, self.update_rule)
            if FAST_RULES.get(self.update_rule_name) is self.update_rule
            else None
        )
        if optim_config is not None and not isinstance(optim_config, dict):
            raise TypeError(f"optim_config must be a dict, got {type(optim_config).__name__}")
        self.optim_config = {} if optim_config is None else optim_config
        check_hyperparameters(self.optim_config)
        if not isinstance(lr_decay, numbers.Real) or not lr_decay > 0:
            raise ValueError(f"lr_decay must be a positive number, got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.batch_size = check_count("batch_size", batch_size, minimum=1)
        self.num_epochs = check_count("num_epochs", num_epochs, minimum=0)
        self.num_train_samples = check_count("num_train_samples", num_train_samples, 1, True)
        self.num_val_samples = check_count("num_val_samples", num_val_samples, 1, True)
        self.print_every = check_count("print_every", print_every, minimum=1)
        self.verbose = bool(verbose)
        check_progress(progress)
        self.progress = progress
        self.checkpoint_name = check_checkpoint_name(checkpoint_name)
        if not isinstance(checkpoint_overwrite, bool):
            raise TypeError(
                f"checkpoint_overwrite must be True or False, got {checkpoint_overwrite!r}"
            )
        self.checkpoint_overwrite = checkpoint_overwrite
        # No seed: NumPy's global generator (the same bit generator, so np.random.seed applies),
        # and the minibatches drawn as cs231n draws them (_next_batch).
        self.rng = (
            make_rng(seed)
            if seed is not None
            else np.random.Generator(np.random.get_bit_generator())
        )
        self.run_id = new_run_id()  # from the OS, not self.rng: the run's draws stay the same
        self._prefix_claimed = False
        self._unmarked_are_ours = False  # resumed from a checkpoint written before run ids
        self._last_checkpoint: Path | None = None

        self.num_train = self.X_train.shape[0]
        # An epoch is N // batch_size full batches; the N % batch_size left over wait for the
        # next permutation (as cs231n counts iterations).
        self.iterations_per_epoch = max(self.num_train // self.batch_size, 1)
        self._reset()

    def _reset(self) -> None:
        """Book-keeping for a fresh run (cs231n's name)."""
        self.epoch = 0
        self.best_val_metric: float | None = None
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.best_statistics: list[dict[str, np.ndarray]] | None = None
        self.loss_history: list[float] = []
        self.train_metric_history: list[float] = []  # the metric_name metric, per epoch
        self.val_metric_history: list[float] = []
        self.optim_configs = {name: copy.deepcopy(self.optim_config) for name in self.model.params}
        self._order: np.ndarray | None = None  # this epoch's permutation of the training set
        self._batch_in_epoch = 0

    # -- cs231n's names for the metric ----------------------------------------------------------

    @property
    def best_val_acc(self) -> float | None:
        """cs231n's name: the best validation accuracy (0 before training; None for regression)."""
        if self.metric_name != "accuracy":
            return None
        return 0.0 if self.best_val_metric is None else self.best_val_metric

    @property
    def train_acc_history(self) -> list[float]:
        """cs231n's name for ``train_metric_history`` (the same list)."""
        return self.train_metric_history

    @train_acc_history.setter
    def train_acc_history(self, history: list[float]) -> None:
        self.train_metric_history = history

    @property
    def val_acc_history(self) -> list[float]:
        """cs231n's name for ``val_metric_history`` (the same list)."""
        return self.val_metric_history

    @val_acc_history.setter
    def val_acc_history(self, history: list[float]) -> None:
        self.val_metric_history = history

    # -- one iteration --------------------------------------------------------------------------

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self.rng.bit_generator is np.random.get_bit_generator():
            # No seed: cs231n's draw (with replacement), which np.random.seed reproduces.
            batch = np.random.choice(self.num_train, self.batch_size)  # noqa: NPY002
            return self.X_train[batch], self.y_train[batch]
        if self._order is None or self._batch_in_epoch >= self.iterations_per_epoch:
            self._order = self.rng.permutation(self.num_train)
            self._batch_in_epoch = 0
        start = self._batch_in_epoch * self.batch_size
        batch = self._order[start : start + self.batch_size]
        self._batch_in_epoch += 1
        return self.X_train[batch], self.y_train[batch]

    def _step(self) -> float:
        """One minibatch: one forward/backward, then an in-place update of every parameter
        (one rule call per packed group of small params, one per other param)."""
        X_batch, y_batch = self._next_batch()
        try:
            loss, grads = self.model.loss(X_batch, y_batch)
        except OverflowInNormalization as overflow:
            self._overflowed(overflow, X_batch, y_batch)
        loss = float(loss)
        self.loss_history.append(loss)
        if not math.isfinite(loss):
            # before the update: a NaN gradient never reaches the params
            self._diverged(loss, X_batch, y_batch)
        params = self.model.params
        packer = self._multi_tensor
        packed = frozenset() if packer is None else packer.update(params, grads, self.optim_configs)
        for name, w in params.items():
            if name in packed:
                continue
            try:
                dw = grads[name]
            except KeyError:
                raise KeyError(f"model.loss returned no gradient for parameter {name!r}") from None
            params[name], self.optim_configs[name] = self.update_rule(
                w, dw, self.optim_configs[name]
            )
        if packer is not None:
            packer.pack(params, grads, self.optim_configs)  # after the first step: the state exists
        return loss

    def _overflowed(
        self,
        overflow: OverflowInNormalization,
        X_batch: np.ndarray | None,
        y_batch: np.ndarray | None,
    ) -> None:
        """A normalisation layer's statistics overflowed. Before any update the inputs are to
        blame: re-raise. After updates the activations outgrew the dtype: the loss would have
        been inf, so record it and raise TrainingDiverged (see :meth:`_diverged`)."""
        if not self.loss_history:
            raise overflow
        self.loss_history.append(math.inf)
        self._diverged(math.inf, X_batch, y_batch, cause=overflow)

    def _diverged(
        self,
        loss: float,
        X_batch: np.ndarray | None,
        y_batch: np.ndarray | None,
        cause: OverflowInNormalization | None = None,
    ) -> None:
        """Raise TrainingDiverged for a non-finite loss, or for ``cause``: a normalisation
        layer's statistics that overflowed after updates (the loss is then recorded as inf).
        X_batch, y_batch: the step's batch, or None when the overflow came while measuring
        the epoch's metrics (on splits checked finite at the start)."""
        # from the history, not the sampler: the unseeded (cs231n) draws keep no position
        epoch = self.epoch + 1
        iteration = (len(self.loss_history) - 1) % self.iterations_per_epoch + 1
        message = (
            f"training diverged: the loss is {loss} at epoch {epoch}, iteration {iteration} of "
            f"{self.iterations_per_epoch} (iteration {len(self.loss_history)} overall)"
        )
        if cause is not None:
            message += f": {cause.summary}"
        if self.best_params is not None:
            self._restore_best()
            message += (
                f"; the model holds the best params so far (epoch {self.best_epoch}, val "
                f"{self.metric_name} {self.best_val_metric:.4g})"
            )
        if self.checkpoint_name is not None:
            try:
                path = write_checkpoint(f"{self.checkpoint_name}_diverged.pkl", self._checkpoint())
                message += f", saved to {path}"
            except OSError as error:  # the divergence is the news; a full disk must not hide it
                message += f" (could not save a checkpoint: {error})"
        inputs = [] if X_batch is None else [X_batch]
        if y_batch is not None and self.metric_name == "mse":
            inputs.append(y_batch)
        bad = sum(
            a.size - int(np.count_nonzero(np.isfinite(a)))
            for a in inputs
            if np.issubdtype(a.dtype, np.inexact)
        )
        if bad:  # the data changed since the check in __init__
            message += (
                f". The batch's inputs hold {bad} non-finite value(s): the data is bad, not the "
                f"learning rate; look for NaN or inf in data['X_train']"
                + (" and data['y_train']" if self.metric_name == "mse" else "")
                + "."
            )
        else:
            checked = "data is" if X_batch is None else "batch's inputs are"
            message += (
                f". The {checked} finite, so the steps were too large: try a smaller learning rate."
            )
        raise TrainingDiverged(message, epoch=epoch, iteration=iteration, loss=loss) from cause

    # -- evaluation -----------------------------------------------------------------------------

    def check_metric(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """The model's metric on (X, y): accuracy, or the mean squared error if metric_name is 'mse'.

        X: (N, ...); y: (N,) labels, or regression targets shaped like the scores ((N,) when
        the model predicts one number). num_samples: evaluate on a random subset of this many
        examples, drawn without replacement from the solver's RNG. Scores are computed
        batch_size examples at a time, in test mode.
        """
        check_examples("X", X, "y", y)
        batch_size = check_count("batch_size", batch_size, minimum=1)
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            subset = self.rng.choice(N, num_samples, replace=False)
            X, y, N = X[subset], y[subset], num_samples
        total, count = 0.0, 0
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            y_batch = y[start : start + batch_size]
            if self.metric_name == "mse":
                if y_batch.size != scores.size:
                    raise ValueError(
                        f"y must hold one target per score: scores have shape {scores.shape}, "
                        f"y rows have shape {y.shape[1:]}"
                    )
                diff = scores - y_batch.reshape(scores.shape)  # (N,) targets for (N, 1) scores
                total += float(np.vdot(diff, diff))
                count += diff.size
            else:
                total += int(np.count_nonzero(np.argmax(scores, axis=1) == y_batch))
                count += y_batch.shape[0]
        return total / count

    check_accuracy = check_metric  # cs231n's name

    def _is_better(self, val_metric: float) -> bool:
        if self.best_val_metric is None:
            return not math.isnan(val_metric)
        if self.metric_name == "mse":
            return val_metric < self.best_val_metric
        return val_metric > self.best_val_metric

    def _running_statistics(self) -> list[dict[str, np.ndarray]]:
        """Copies of the model's normalisation running statistics (``model.bn_params``).

        They belong with the params: the best epoch's weights under a later epoch's running
        mean and variance make an inconsistent model in test mode.
        """
        return [
            {key: np.array(value, copy=True) for key, value in state.items() if key in RUNNING}
            for state in getattr(self.model, "bn_params", [])
        ]

    def _restore_best(self) -> None:
        """Copy the best params (and the running statistics of that epoch) into the model."""
        for name, best in self.best_params.items():
            np.copyto(self.model.params[name], best)
        for state, best in zip(
            getattr(self.model, "bn_params", []), self.best_statistics or [], strict=False
        ):
            state.update({key: value.copy() for key, value in best.items()})

    # -- the training loop ----------------------------------------------------------------------

    def train(self, on_epoch_end: Callable[[Solver], Any] | None = None) -> None:
        """Train until ``self.epoch == self.num_epochs``, then put the best params in the model.

        on_epoch_end(solver) is called after every evaluation, the initial one (epoch 0)
        included, once histories and checkpoint are up to date: a place to record activations
        or anything else per epoch. Calling train() again after raising num_epochs continues.
        Raises TrainingDiverged if the loss becomes NaN or infinite.

        The loop runs under :func:`~bnlab.fast.ufunc_buffer.small_ufunc_buffer`, which speeds
        up the normalisation layers; NumPy's setting is the caller's again once train() returns
        or raises (KeyboardInterrupt included).
        """
        if on_epoch_end is not None and not callable(on_epoch_end):
            raise TypeError(f"on_epoch_end must be callable, got {type(on_epoch_end).__name__}")
        if self.checkpoint_name is not None and not self._prefix_claimed:
            claim_prefix(
                self.checkpoint_name,
                self.run_id,
                self.checkpoint_overwrite,
                self._unmarked_are_ours,
            )
            self._prefix_claimed = True
        with small_ufunc_buffer():
            if not self.val_metric_history:  # nothing measured yet: record the untrained model
                self._end_epoch(time.perf_counter(), on_epoch_end)
            while self.epoch < self.num_epochs:
                start = time.perf_counter()
                self._train_epoch()
                self._end_epoch(start, on_epoch_end)
            if self.best_params is not None:
                self._restore_best()

    def _train_epoch(self) -> None:
        epoch = self.epoch + 1
        batch_len = min(self.batch_size, self.num_train)
        num_iterations = self.num_epochs * self.iterations_per_epoch
        show = self.progress if self.verbose else False
        bar = progress_bar(
            show, self.iterations_per_epoch * batch_len, f"epoch {epoch}/{self.num_epochs}"
        )
        self._order = None  # a fresh permutation for every epoch
        try:
            for _ in range(self.iterations_per_epoch):
                loss = self._step()
                bar.update(batch_len, loss)
                t = len(self.loss_history) - 1  # 0-based iteration count since the start
                if self.verbose and t % self.print_every == 0:
                    bar.write(f"(Iteration {t + 1} / {num_iterations}) loss: {loss:f}")
        finally:
            bar.close()
        self.epoch = epoch
        if self.lr_decay != 1.0:
            for config in self.optim_configs.values():
                if "learning_rate" in config:
                    config["learning_rate"] *= self.lr_decay

    def _end_epoch(self, start: float, on_epoch_end: Callable[[Solver], Any] | None) -> None:
        """Measure, keep the best params, checkpoint, print the summary, call back."""
        try:
            train_metric = self.check_metric(
                self.X_train, self.y_train, num_samples=self.num_train_samples
            )
            val_metric = self.check_metric(self.X_val, self.y_val, num_samples=self.num_val_samples)
        except OverflowInNormalization as overflow:
            # after the epoch's last update, which blew the activations up past its finite loss
            self._overflowed(overflow, None, None)
        self.train_metric_history.append(train_metric)
        self.val_metric_history.append(val_metric)
        if self._is_better(val_metric):
            self.best_val_metric, self.best_epoch = val_metric, self.epoch
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}
            self.best_statistics = self._running_statistics()
        if self.checkpoint_name is not None:
            self._write_epoch_checkpoint()
        if self.verbose:
            short = "acc" if self.metric_name == "accuracy" else "mse"
            line = (
                f"(Epoch {self.epoch} / {self.num_epochs}) train {short}: {train_metric:f}; "
                f"val_{short}: {val_metric:f}"
            )
            if self.epoch > 0:
                epoch_losses = self.loss_history[-self.iterations_per_epoch :]
                line += f"; loss: {np.mean(epoch_losses):.4f}; {time.perf_counter() - start:.1f} s"
            print(line, flush=True)
        if on_epoch_end is not None:
            on_epoch_end(self)

    # -- checkpoints ----------------------------------------------------------------------------

    def _write_epoch_checkpoint(self) -> None:
        """This epoch's checkpoint; on a failed write, stop naming the file and the last good one."""
        path = checkpoint_path(self.checkpoint_name, self.epoch)
        try:
            write_checkpoint(path, self._checkpoint())
        except CheckpointWriteError as error:
            last = (
                f"the last good checkpoint, {str(self._last_checkpoint)!r}, is intact"
                if self._last_checkpoint is not None
                else "no checkpoint of this run was written"
            )
            raise CheckpointWriteError(
                error.errno,
                f"{error.strerror}; training stopped after epoch {self.epoch}: {last} (free "
                f"space, or give another checkpoint_name, and resume)",
                error.filename,
            ) from error.__cause__
        self._last_checkpoint = path

    def _checkpoint(self) -> dict[str, Any]:
        """The keys of :data:`bnlab.solver.checkpoint.SCHEMA`: cs231n's, plus exact resume's."""
        rates = [c["learning_rate"] for c in self.optim_configs.values() if "learning_rate" in c]
        # A name when the rule came from one (resume maps it back to the fast rule); else the
        # callable itself, pickled by reference as cs231n's checkpoint does.
        by_name = FAST_RULES.get(self.update_rule_name) is self.update_rule
        return make_checkpoint(
            model=self.model,
            update_rule=self.update_rule_name if by_name else self.update_rule,
            lr_decay=self.lr_decay,
            optim_config=self.optim_config,
            batch_size=self.batch_size,
            num_train_samples=self.num_train_samples,
            num_val_samples=self.num_val_samples,
            epoch=self.epoch,
            loss_history=self.loss_history,
            train_acc_history=self.train_metric_history,
            val_acc_history=self.val_metric_history,
            num_epochs=self.num_epochs,
            # the file name only: a resumed run writes next to the file it resumed from
            checkpoint_name=None
            if self.checkpoint_name is None
            else Path(self.checkpoint_name).name,
            print_every=self.print_every,
            verbose=self.verbose,
            progress=self.progress,
            optim_configs=self.optim_configs,
            best_params=self.best_params,
            best_statistics=self.best_statistics,
            best_val_metric=self.best_val_metric,
            best_epoch=self.best_epoch,
            metric_name=self.metric_name,
            rng_state=self.rng.bit_generator.state,
            data_shapes=describe_data({key: getattr(self, key) for key in DATA_KEYS}),
            learning_rate=rates[0] if rates else None,
            run_id=self.run_id,
        )

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike,
        data: Mapping[str, np.ndarray],
        *,
        trusted: Iterable[Any] = (),
        **overrides: Any,
    ) -> Solver:
        """A Solver that continues from a checkpoint: ``train()`` runs the next epoch.

        data: the same data the run was started with (shapes are checked).
        overrides: any Solver keyword except seed (the RNG continues from its saved state).
        num_epochs is the total to reach, so a 4-epoch run stopped after 2 is finished by
        ``Solver.resume(path, data, num_epochs=4).train()``, with the same histories and
        params as if it had never stopped. optim_config entries (e.g. learning_rate) are
        written into every parameter's config; update_rule cannot change, since the saved
        optimizer state belongs to the old rule. The resumed run keeps the checkpoint's run
        identity and writes its checkpoints next to ``path`` (under the run's file-name prefix)
        unless checkpoint_name is given.

        trusted: your own classes or functions the checkpoint names (a model class, a
        callable update rule); see :func:`~bnlab.solver.checkpoint.load_checkpoint`, which
        loads nothing else but numpy arrays, builtins and bnlab's models and update rules.
        """
        checkpoint = load_checkpoint(path, trusted)
        if "seed" in overrides:
            raise TypeError("seed cannot be given to Solver.resume: the saved RNG state continues")
        settings = {key: checkpoint[key] for key in SETTINGS}
        saved_rule = settings["update_rule"]
        rule = overrides.get("update_rule", saved_rule)
        if rule != saved_rule and not same_update_rule(saved_rule, rule):
            raise ValueError(
                f"update_rule cannot change on resume: the checkpoint holds "
                f"{saved_rule!r} state, got update_rule={rule!r}"
            )
        new_config = overrides.pop("optim_config", None)
        if new_config is not None:
            settings["optim_config"] = {**settings["optim_config"], **new_config}
        if settings["checkpoint_name"] is not None:  # next to the file, wherever it now is
            name = Path(settings["checkpoint_name"]).name
            settings["checkpoint_name"] = os.fspath(Path(path).parent / name)
        settings.update(overrides)
        solver = cls(checkpoint["model"], data, **settings)
        if checkpoint.get("run_id") is not None:
            solver.run_id = checkpoint["run_id"]
        else:  # written before runs had an identity: its unmarked files are taken as this run's
            solver._unmarked_are_ours = True

        check_same_data(checkpoint["data_shapes"], data)
        if checkpoint["metric_name"] != solver.metric_name:
            raise ValueError(
                f"the checkpoint tracked {checkpoint['metric_name']}, the model gives "
                f"{solver.metric_name}"
            )
        solver.epoch = checkpoint["epoch"]
        solver.loss_history = list(checkpoint["loss_history"])
        solver.train_metric_history = list(checkpoint["train_acc_history"])
        solver.val_metric_history = list(checkpoint["val_acc_history"])
        solver.optim_configs = checkpoint["optim_configs"]
        if new_config is not None:
            for config in solver.optim_configs.values():
                config.update(copy.deepcopy(new_config))
        solver.best_params = checkpoint["best_params"]
        solver.best_statistics = checkpoint["best_statistics"]
        solver.best_val_metric = checkpoint["best_val_metric"]
        solver.best_epoch = checkpoint["best_epoch"]
        state = checkpoint["rng_state"]
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
        solver.rng = np.random.Generator(bit_generator)
        return solver
