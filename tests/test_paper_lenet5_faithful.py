"""The faithful LeNet-5 trained the paper's way through paper.toml: the MAP loss, SDLM and the
SDLMPasses callback that papers/lenet5/train.py defines, argmin classification in the Classifier,
`odyssey train` / `odyssey evaluate` / `odyssey predict` on a faithful run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_run import run

import odyssey
from odyssey import papers
from odyssey.data import DataLoader, load_dataset
from odyssey.train import Classifier, Trainer
from odyssey.train.callbacks import Callback

LENET5 = Path(__file__).resolve().parents[1] / "papers" / "lenet5"


@pytest.fixture(scope="module")
def config() -> dict:
    return papers.resolve(papers.load_paper(LENET5), "faithful", {"dataset": "mnist-sample"})


def test_faithful_is_the_default_variant_with_the_papers_loss_optimizer_and_passes(config):
    paper = papers.load_paper(LENET5)
    assert paper.variant_names[0] == "faithful"
    train_module = papers.load_train_module(LENET5)
    model_module = papers.load_model_module(LENET5)
    # One package per paper folder: train.py's map_loss is model.py's, not a second copy.
    assert train_module.map_loss is model_module.map_loss
    assert papers.build_loss(config) is model_module.map_loss
    optimizer = papers.build_optimizer(config, papers.build_model(config).parameters())
    assert type(optimizer).__name__ == "SDLM"
    (passes,) = papers.build_callbacks(config)
    assert type(passes).__name__ == "SDLMPasses"
    assert passes.samples == 500
    assert passes.pass_samples == 60_000  # the paper's training set: its schedule's pass
    assert passes.warmup_samples == 8000


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("train.loss=hinge", "train.loss: unknown 'hinge'; choices: cross_entropy, map_loss"),
        ("train.optimizer=Newton", "train.optimizer: unknown 'Newton'; choices: "),
        ("train.callbacks=['Nope']", "unknown callback 'Nope'; choices: SDLMPasses"),
        ("train.callbacks=[{name='SDLMPasses', warm=1}]", "train.callbacks[0].warm: unknown"),
        (
            "train.callbacks=[{name='SDLMPasses', pass_samples=0}]",
            "SDLMPasses: pass_samples must be an int >= 1, got 0",
        ),
        ("train.callbacks=[3]", "train.callbacks[0] must be a callback's name or a table"),
        (
            "train.optimizer=SGD",
            'train.callbacks[0] (SDLMPasses): SDLMPasses needs train.optimizer = "SDLM", got '
            "'SGD'",
        ),
        ("train.augment_args.stream=3", "train.augment_args.stream: not a distortion"),
    ],
)
def test_bad_loss_optimizer_and_callbacks_are_named_with_their_choices(assignment, message):
    paper = papers.load_paper(LENET5)
    with pytest.raises(papers.PaperError) as error:
        papers.resolve(paper, "faithful", sets=[assignment])
    assert message in str(error.value)


def test_a_train_py_that_fails_to_import_is_a_paper_error_naming_it(tmp_path):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(Path(__file__).parent / "data" / "papers" / "tiny", folder)
    (folder / "train.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(papers.PaperError, match=r"train\.py: importing it failed: RuntimeError"):
        papers.resolve(papers.load_paper(folder), sets=["train.loss=anything"])


def test_a_paper_without_train_py_has_only_the_builtin_loss(tmp_path):
    tiny = Path(__file__).parent / "data" / "papers" / "tiny"
    assert papers.load_train_module(tiny) is None
    paper = papers.load_paper(tiny)
    expected = r"train\.loss: unknown 'map_loss'; choices: cross_entropy$"
    with pytest.raises(papers.PaperError, match=expected):
        papers.resolve(paper, sets=["train.loss=map_loss"])


class _Spy(Callback):
    """Records the lr of every step and the SDLM h of every epoch."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.h: list[dict[str, np.ndarray]] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        optimizer = trainer.optimizer
        self.h.append({id(p): optimizer.state[p]["hessian"].copy() for p in optimizer._params()})

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])


def test_sdlm_passes_reestimate_h_each_pass_and_follow_the_papers_schedule(tmp_path, config):
    model_module = papers.load_model_module(LENET5)
    sdlm = papers.load_train_module(LENET5)
    data = load_dataset("mnist-sample", "train")
    subset = odyssey.data.Subset(data, list(range(96)))
    loader = DataLoader(subset, batch_size=16, shuffle=True, seed=3)
    odyssey.manual_seed(0)
    model = model_module.LeNet5()
    module = Classifier(
        model, loss=model_module.map_loss, optimizer=lambda p: sdlm.SDLM(p, lr=1e-3, mu=0.1)
    )
    spy = _Spy()
    # The spy comes after SDLMPasses, so it sees the h that the pass estimated.
    trainer = Trainer(
        max_epochs=3,
        callbacks=[sdlm.SDLMPasses(samples=40, pass_samples=32, warmup_samples=40), spy],
        default_root_dir=tmp_path,
        seed=7,
        progress=False,
    )
    trainer.fit(module, loader)
    # 3 epochs of 6 steps of 16 samples; a pass of the schedule is 32 samples (2 steps): passes
    # 1-2 at the paper's 5e-4, 3-5 at 2e-4, 6-8 at 1e-4, 9 at 5e-5 (scaled by lr / 5e-4), and a
    # ramp over the first 40 samples: 16/40, 32/40, then 1.
    paper = [5e-4] * 4 + [2e-4] * 6 + [1e-4] * 6 + [5e-5] * 2
    ramp = [16 / 40, 32 / 40] + [1.0] * 16
    expected = [1e-3 * p / 5e-4 * r for p, r in zip(paper, ramp, strict=True)]
    np.testing.assert_allclose(spy.lrs, expected, rtol=1e-12)
    assert len(spy.h) == 3
    first, second = spy.h[0], spy.h[1]
    assert any(not np.array_equal(first[key], second[key]) for key in first)  # re-estimated


def test_classifier_ranks_penalties_by_argmin(tmp_path):
    model_module = papers.load_model_module(LENET5)
    odyssey.manual_seed(1)
    model = model_module.LeNet5()
    test = load_dataset("mnist-sample", "test")
    loader = DataLoader(odyssey.data.Subset(test, list(range(64))), batch_size=32)
    module = Classifier(model, loss=model_module.map_loss)
    trainer = Trainer(progress=False, enable_checkpointing=False, default_root_dir=tmp_path)
    (results,) = trainer.test(module, loader)
    with odyssey.no_grad():
        penalties = np.concatenate([model(odyssey.tensor(x)).numpy() for x, _ in loader])
    labels = np.concatenate([y for _, y in loader])
    assert results["test_accuracy"] == pytest.approx(np.mean(penalties.argmin(1) == labels))
    assert np.mean(penalties.argmax(1) == labels) != results["test_accuracy"]


@pytest.fixture(scope="module")
def faithful_run(tmp_path_factory) -> Path:
    """One pass of the faithful variant on mnist-sample through `odyssey train`."""
    out = tmp_path_factory.mktemp("faithful") / "run"
    status, stdout, stderr = run(
        "train", str(LENET5), "--dataset", "mnist-sample", "--epochs", "1",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert status == 0, stderr
    assert "lenet5 / faithful (LeNet5) on mnist-sample" in stdout
    return out


def test_one_faithful_pass_learns_and_evaluates_with_the_map_loss(faithful_run):
    accuracy = json.loads((faithful_run / "summary.json").read_text())["test_accuracy"]
    assert accuracy > 0.6  # one pass of SDLM, with its ramp: far above chance (0.1)
    status, stdout, stderr = run("evaluate", str(faithful_run), "--no-progress")
    assert status == 0, stderr
    measured = {line.split()[0]: float(line.split()[1]) for line in stdout.splitlines()[1:-1]}
    assert measured["test_accuracy"] == pytest.approx(accuracy, abs=1e-9)


def test_predict_on_a_faithful_run_gives_the_argmin_class(faithful_run, tmp_path):
    image = pytest.importorskip("PIL.Image")
    test = load_dataset("mnist-sample", "test")
    paths = []
    for index in range(6):
        path = tmp_path / f"{index}.png"
        image.fromarray(255 - test.images[index]).save(path)
        paths.append(str(path))
    status, stdout, stderr = run("predict", str(faithful_run), *paths, "--json")
    assert status == 0, stderr
    predictions = json.loads(stdout)["predictions"]
    model_module = papers.load_model_module(LENET5)
    model = model_module.LeNet5()
    model.load_state_dict(odyssey.load(faithful_run / "weights.safetensors"))
    from odyssey.data.images import load_digit

    digits = np.stack([load_digit(path) for path in paths])[:, None]
    with odyssey.no_grad():
        penalties = model(odyssey.tensor(digits)).numpy()
    for row, prediction in enumerate(predictions):
        best = prediction["top"][0]
        assert best["index"] == int(penalties[row].argmin())
        expected = np.exp(-(penalties[row] - penalties[row].min()))
        assert best["probability"] == pytest.approx(1 / expected.sum(), rel=1e-5)
