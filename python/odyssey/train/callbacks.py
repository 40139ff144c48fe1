"""Training callbacks with Lightning's hooks, names and arguments.

A callback is an object whose hooks the Trainer calls at fixed points of `fit`, `validate`,
`test` and `predict`. The order within one `fit` is Lightning's:

    setup("fit")
    on_fit_start
    on_train_start
    for each epoch:
        on_train_epoch_start
        for each batch:
            on_train_batch_start
            (forward, backward, gradient clipping)
            on_before_optimizer_step
            (optimizer step, per-step scheduler step)
            on_train_batch_end
            (mid-epoch validation when val_check_interval < 1: the validation block below)
        validation, when a validation loader is given:
            on_validation_start
            on_validation_epoch_start
            for each batch: on_validation_batch_start, on_validation_batch_end
            on_validation_epoch_end
            on_validation_end
        on_train_epoch_end           (the epoch's metrics, validation included, are logged)
    on_train_end
    on_fit_end
    teardown("fit")

`on_save_checkpoint` runs whenever the Trainer writes a checkpoint, `on_load_checkpoint` when
`fit(ckpt_path=...)` restores one (before `on_fit_start`'s training begins), `on_exception` when
any hook or step raises (KeyboardInterrupt included), before `teardown`. `test`, `validate` and
`predict` call `setup(stage)`, their own start/batch/epoch/end hooks and `teardown(stage)`.

Each callback's `state_dict()` is stored in the checkpoint under its `state_key` and handed back
to `load_state_dict` on resume, so that a resumed run behaves as one that never stopped.
"""

from __future__ import annotations

from typing import Any


class Callback:
    """Base class of the Trainer's callbacks: every hook is a no-op, override the ones you need."""

    @property
    def state_key(self) -> str:
        """The key of this callback's state in a checkpoint: the class name, plus the arguments
        that tell two instances of the class apart (see `_generate_state_key`)."""
        return type(self).__qualname__

    def _generate_state_key(self, **kwargs: Any) -> str:
        """`ClassName{'arg': value, ...}`, Lightning's form of a state key with arguments."""
        return f"{type(self).__qualname__}{kwargs!r}"

    # -- set up and tear down -------------------------------------------------------------------

    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        """First hook of fit/validate/test/predict; stage: "fit", "validate", "test", "predict"."""

    def teardown(self, trainer: Any, module: Any, stage: str) -> None:
        """Last hook of fit/validate/test/predict, also after an exception (files close here)."""

    # -- fit --------------------------------------------------------------------------------------

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        """Start of `fit`, after setup and after a checkpoint given as ckpt_path is restored."""

    def on_fit_end(self, trainer: Any, module: Any) -> None:
        """End of `fit`, after on_train_end, when training finished without an exception."""

    def on_train_start(self, trainer: Any, module: Any) -> None:
        """Start of the training loop, right before the first on_train_epoch_start."""

    def on_train_end(self, trainer: Any, module: Any) -> None:
        """End of the training loop: max_epochs/max_steps reached or should_stop set."""

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        """Start of each training epoch (trainer.current_epoch is the epoch about to run)."""

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        """End of each training epoch, after its validation; callback_metrics hold the epoch's
        aggregates (train_loss_epoch, val_loss, ...). The place for per-epoch checkpoints."""

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        """Before the forward pass of each training batch."""

    def on_before_optimizer_step(self, trainer: Any, module: Any, optimizer: Any) -> None:
        """After backward and gradient clipping, before optimizer.step(): gradients are final."""

    def on_train_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After the optimizer step of each batch; trainer.global_step already counts it and
        outputs is what training_step returned (the loss, or its dict)."""

    # -- validation -------------------------------------------------------------------------------

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        """Start of a validation run (within fit, or from trainer.validate)."""

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        """End of a validation run, after on_validation_epoch_end."""

    def on_validation_epoch_start(self, trainer: Any, module: Any) -> None:
        """Start of the validation epoch, before its first batch."""

    def on_validation_epoch_end(self, trainer: Any, module: Any) -> None:
        """After the last validation batch; callback_metrics hold val_loss, val_accuracy, ..."""

    def on_validation_batch_start(
        self, trainer: Any, module: Any, batch: Any, batch_idx: int
    ) -> None:
        """Before validation_step on each validation batch."""

    def on_validation_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After validation_step on each validation batch; outputs is what it returned."""

    # -- test and predict -------------------------------------------------------------------------

    def on_test_start(self, trainer: Any, module: Any) -> None:
        """Start of trainer.test."""

    def on_test_end(self, trainer: Any, module: Any) -> None:
        """End of trainer.test, after on_test_epoch_end."""

    def on_test_epoch_start(self, trainer: Any, module: Any) -> None:
        """Before the first test batch."""

    def on_test_epoch_end(self, trainer: Any, module: Any) -> None:
        """After the last test batch; callback_metrics hold test_loss, test_accuracy, ..."""

    def on_test_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        """Before test_step on each test batch."""

    def on_test_batch_end(
        self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """After test_step on each test batch; outputs is what it returned."""

    def on_predict_start(self, trainer: Any, module: Any) -> None:
        """Start of trainer.predict."""

    def on_predict_end(self, trainer: Any, module: Any) -> None:
        """End of trainer.predict."""

    # -- checkpoints, errors ----------------------------------------------------------------------

    def on_save_checkpoint(self, trainer: Any, module: Any, checkpoint_state: dict) -> None:
        """While a checkpoint is assembled, before it is written: may add JSON-able entries to
        checkpoint_state (the callbacks' own state_dict() is stored by the Trainer)."""

    def on_load_checkpoint(self, trainer: Any, module: Any, checkpoint_state: dict) -> None:
        """When fit(ckpt_path=...) restores a checkpoint, after load_state_dict: checkpoint_state
        is the checkpoint's state dict."""

    def on_exception(self, trainer: Any, module: Any, exception: BaseException) -> None:
        """When fit/validate/test/predict raises (KeyboardInterrupt included), before teardown."""

    # -- state ------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """This callback's state, JSON-able, stored in checkpoints under state_key."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what state_dict() returned, after a JSON round trip (tuples become lists)."""
