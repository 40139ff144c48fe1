"""model.py from an architecture (odyssey.agents.research.modelgen): the generated source imports
and runs forward with the shape and parameter count worked out layer by layer, what odyssey.nn
cannot express gets a stand-in and a TODO, and no string of the answer becomes code."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import odyssey
from odyssey.agents.research.modelgen import generate_model


def layer(name: str, kind: str, shape: list[int], **keys: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "output_shape": shape,
        "source": "p. 2",
        "confidence": 0.9,
        **keys,
    }


def lenet_like() -> dict[str, Any]:
    """LeNet-5 as its text describes it: 32x32 input, tanh, subsampling, C3's partial
    connections counted as the paper counts them, an RBF output layer."""
    return {
        "name": "LeNet5",
        "input_shape": [1, 32, 32],
        "num_classes": 10,
        "total_parameters": 60000,
        "source": "p. 7, sec. II.B",
        "confidence": 0.9,
        "layers": [
            layer("C1", "conv2d", [6, 28, 28], out_channels=6, kernel_size=5, parameters=156),
            layer("C1 squash", "tanh", [6, 28, 28]),
            layer("S2", "avgpool2d", [6, 14, 14], kernel_size=2, notes="trainable coefficient"),
            layer("C3", "conv2d", [16, 10, 10], out_channels=16, kernel_size=5, parameters=1516),
            layer("C3 squash", "tanh", [16, 10, 10]),
            layer("S4", "avgpool2d", [16, 5, 5]),  # the window from the stated size
            layer("C5", "conv2d", [120, 1, 1], out_channels=120, parameters=48120),  # kernel too
            layer("C5 squash", "tanh", [120, 1, 1]),
            layer("F6", "linear", [84], out_features=84, parameters=10164),
            layer("F6 squash", "tanh", [84]),
            layer("OUTPUT", "other", [10], notes="Euclidean radial basis function units"),
        ],
    }


def load(source: str, tmp_path: Path) -> ModuleType:
    path = tmp_path / "generated_model.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"generated_{tmp_path.name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def forward(model: Any, shape: tuple[int, ...]) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    return model(odyssey.tensor(x)).detach().numpy()


def test_a_lenet_like_architecture_becomes_a_model_that_runs(tmp_path: Path) -> None:
    generated = generate_model(lenet_like(), "Gradient-Based Learning")
    assert generated.class_name == "LeNet5"
    assert [plan.shape for plan in generated.layers] == [
        (6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5),
        (120, 1, 1), (120, 1, 1), (120,), (84,), (84,), (10,),
    ]  # fmt: skip
    # C1 156, C3 fully connected 2,416, C5 48,120, the flatten, F6 10,164, the stand-in 850.
    assert generated.parameters == 156 + 2416 + 48120 + 10164 + 850 == 61706
    module = load(generated.source, tmp_path)
    odyssey.manual_seed(0)
    model = module.LeNet5()
    assert sum(p.numel() for p in model.parameters()) == 61706
    output = forward(model, (1, 32, 32))
    assert output.shape == (2, 10)
    assert np.isfinite(output).all()
    # 10 classes from num_classes: the last layer follows the argument.
    assert forward(module.LeNet5(num_classes=7), (1, 32, 32)).shape == (2, 7)


def test_what_odyssey_nn_cannot_express_is_a_todo_in_the_list_and_the_code() -> None:
    generated = generate_model(lenet_like())
    todos = "\n".join(generated.todos)
    assert "C3: the paper counts 1,516 parameters, odyssey's layer has 2,416" in todos
    assert (
        "OUTPUT: odyssey.nn has no layer for this (Euclidean radial basis function units)" in todos
    )
    assert "the paper states 60,000 parameters in all, the model as written has 61,706" in todos
    assert len(generated.todos) == 3
    assert generated.source.count("TODO(draft)") >= 3
    assert "(STAND-IN)" in generated.source
    assert "trainable coefficient" in generated.source  # a layer's notes reach its comment


def test_shapes_are_inferred_and_a_last_softmax_is_left_out(tmp_path: Path) -> None:
    architecture = {
        "name": "Small",
        "input_shape": [3, 16, 16],
        "num_classes": 5,
        "total_parameters": None,
        "source": "p. 1",
        "confidence": 0.8,
        "layers": [
            layer("conv", "conv2d", [4, 16, 16], out_channels=4, kernel_size=3, padding=1),
            layer("bn", "batchnorm2d", [4, 16, 16]),
            layer("act", "relu", [4, 16, 16]),
            layer("pool", "maxpool2d", [4, 8, 8], kernel_size=2),
            layer("fc", "linear", [32], out_features=32),  # a Flatten goes in before it
            layer("bn1", "batchnorm1d", [32]),
            layer("drop", "dropout", [32]),  # p not stated: 0.5, and a TODO
            layer("out", "linear", [5], out_features=5),
            layer("prob", "softmax", [5]),
        ],
    }
    generated = generate_model(architecture)
    assert "nn.Flatten()" in generated.source
    assert "nn.Softmax" not in generated.source
    assert "softmax left out (cross_entropy applies it)" in generated.source
    assert generated.todos == ["drop: dropout probability not stated; 0.5 assumed"]
    expected = (3 * 4 * 9 + 4) + 8 + (256 * 32 + 32) + 64 + (32 * 5 + 5)
    assert generated.parameters == expected
    model = load(generated.source, tmp_path).Small()
    model.eval()
    assert forward(model, (3, 16, 16)).shape == (2, 5)


def test_a_shape_the_paper_states_differently_is_a_todo() -> None:
    architecture = lenet_like()
    architecture["layers"][0]["output_shape"] = [6, 30, 30]
    generated = generate_model(architecture)
    assert (
        "C1: the paper gives output 6x30x30, the layer as written computes 6x28x28; check p. 2"
        in generated.todos
    )


def test_no_string_of_the_answer_becomes_code(tmp_path: Path) -> None:
    architecture = lenet_like()
    architecture["name"] = "Evil(); import os"
    architecture["layers"][0]["name"] = 'C1\nimport os; os.system("echo pwned")\n"""'
    architecture["layers"][0]["source"] = "p. 1\r\nraise SystemExit"
    architecture["layers"][-1]["notes"] = "RBF\n    nn.Identity(),\n"
    generated = generate_model(architecture, 'Title """\nimport sys')
    assert generated.class_name == "PaperModel"
    # The module is its docstring, the three imports and the class; the class builds nn layers.
    tree = ast.parse(generated.source)
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Expr", "ImportFrom", "Import", "ImportFrom", "ClassDef"]
    imported = [alias.name for node in tree.body[1:4] for alias in node.names]  # type: ignore[attr-defined]
    assert imported == ["annotations", "odyssey", "nn"]
    calls = {
        ast.unparse(node.func) for node in ast.walk(tree.body[4]) if isinstance(node, ast.Call)
    }
    assert calls <= {"super", "super().__init__", "self.layers"} | {
        f"nn.{name}" for name in ("Sequential", "Conv2d", "Tanh", "AvgPool2d", "Flatten", "Linear")
    }, calls
    module = load(generated.source, tmp_path)
    assert forward(module.PaperModel(), (1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("kind", "shape", "code"),
    [
        ("other", [6, 28, 28], "nn.Identity()"),
        ("other", [6, 14, 14], "nn.AvgPool2d(kernel_size=2)"),  # trainable subsampling
        ("other", [16, 24, 24], "nn.Conv2d(6, 16, kernel_size=5)"),  # partial connections
        ("other", [3, 7, 7], "nn.AdaptiveAvgPool2d((7, 7)), nn.Conv2d(6, 3, kernel_size=1)"),
    ],
)
def test_a_layer_of_another_kind_gets_a_stand_in_of_its_stated_shape(
    kind: str, shape: list[int], code: str, tmp_path: Path
) -> None:
    architecture = {
        "name": "Net",
        "input_shape": [1, 32, 32],
        "num_classes": None,
        "total_parameters": None,
        "source": "p. 1",
        "confidence": 0.5,
        "layers": [
            layer("C1", "conv2d", [6, 28, 28], out_channels=6, kernel_size=5),
            layer("odd", kind, shape, notes="a partially connected map"),
        ],
    }
    generated = generate_model(architecture)
    assert code in generated.source
    assert generated.output_shape == tuple(shape)
    model = load(generated.source, tmp_path).Net()
    assert forward(model, (1, 32, 32)).shape == (2, *shape)
