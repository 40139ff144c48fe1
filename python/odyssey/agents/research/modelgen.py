"""The architecture the model read from a paper, as odyssey.nn code: a ``model.py`` whose layers
follow the paper's, with the shapes and parameter counts worked out here (never taken on trust
from the model's answer) and a TODO for everything odyssey.nn cannot express as the paper has it.

Shapes are propagated layer by layer from the input shape. What a layer leaves out is inferred
from its neighbours where arithmetic allows (a convolution's input channels, a linear layer's
input features, a pooling window from the stated output size); a Flatten is inserted before a
linear layer on a feature map. A layer of type ``other`` gets a stand-in that produces the stated
output shape (``Identity`` when the shape is unchanged, ``Linear`` on a vector, adaptive average
pooling and a 1x1 convolution on a feature map), marked TODO. A last softmax is left out: the
generic trainer's cross-entropy takes logits.

Every string from the answer lands in a comment with its line breaks and control characters
removed, so the answer cannot add code to model.py.
"""

from __future__ import annotations

import keyword
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GeneratedModel", "LayerPlan", "generate_model", "one_line"]

_ACTIVATIONS = {
    "relu": "nn.ReLU()",
    "tanh": "nn.Tanh()",
    "lecun_tanh": "nn.LeCunTanh()",
    "sigmoid": "nn.Sigmoid()",
}
_WIDTH = 100  # pyproject.toml's ruff line length
_LARGEST_INFERRED_KERNEL = 11  # a kernel "inferred" larger than this is no convolution's


@dataclass
class LayerPlan:
    """One generated layer: its code, the shape after it, its parameter count, its comment and
    the TODOs it raises."""

    code: str
    shape: tuple[int, ...]
    parameters: int
    comment: str
    todos: list[str] = field(default_factory=list)


@dataclass
class GeneratedModel:
    """model.py's source with the class name, input shape, per-layer plans, total parameters and
    the TODO list (each also a comment in the source)."""

    class_name: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    layers: list[LayerPlan]
    parameters: int
    todos: list[str]
    source: str

    @property
    def output_shape(self) -> tuple[int, ...]:
        """One sample's shape at the model's output."""
        return self.layers[-1].shape if self.layers else self.input_shape


def one_line(text: object, limit: int = 300) -> str:
    """`text` as one printable line (control characters and line breaks as spaces), at most
    `limit` characters: safe inside a comment, a table cell or a TOML comment."""
    flat = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _where(layer: Mapping[str, Any]) -> str:
    source = one_line(layer.get("source", "not stated"), 80)
    return f"{source}; confidence {layer.get('confidence', 0):.2f}"


def _shape_text(shape: Sequence[int]) -> str:
    return "x".join(str(n) for n in shape)


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class _Planner:
    """Walks the answer's layers with the running shape, emitting LayerPlans."""

    def __init__(self, input_shape: Sequence[int], num_classes: int | None) -> None:
        self.shape = tuple(int(n) for n in input_shape)
        self.num_classes = num_classes
        self.plans: list[LayerPlan] = []

    def emit(
        self, code: str, shape: tuple[int, ...], params: int, comment: str, todos: list[str]
    ) -> None:
        self.plans.append(LayerPlan(code, shape, params, comment, todos))
        self.shape = shape

    def flatten_first(self, name: str) -> None:
        """A Flatten before a vector layer that follows a feature map."""
        if len(self.shape) > 1:
            shape = (math.prod(self.shape),)
            self.emit("nn.Flatten()", shape, 0, f"(inserted before {name}): flatten", [])

    def layer(self, index: int, layer: Mapping[str, Any], last: bool) -> None:
        kind = layer["type"]
        name = one_line(layer.get("name") or f"layer {index + 1}", 40)
        head = f"{name} ({_where(layer)})"
        todos: list[str] = []
        stated = tuple(layer.get("output_shape") or ())
        before = self.shape
        handler = getattr(self, f"_{kind}", None)
        if kind in _ACTIVATIONS:
            self.emit(_ACTIVATIONS[kind], before, 0, f"{head}: {kind}", todos)
        elif handler is not None:
            handler(layer, head, stated, todos, last)
        else:  # pragma: no cover - the output schema's enum lists every kind handled here
            self._other(layer, head, stated, todos, last)
        if self.plans and layer.get("notes") and kind != "other":
            self.plans[-1].comment += f" — {one_line(layer['notes'], 160)}"
        plan = self.plans[-1] if self.plans else None
        if plan is None:
            return
        if stated and tuple(stated) != plan.shape and not (last and kind == "softmax"):
            plan.todos.append(
                f"{name}: the paper gives output {_shape_text(stated)}, the layer as written "
                f"computes {_shape_text(plan.shape)}; check {layer.get('source', 'the paper')}"
            )
        counted = layer.get("parameters")
        if counted is not None and counted != plan.parameters and kind != "other":
            plan.todos.append(
                f"{name}: the paper counts {counted:,} parameters, odyssey's layer has "
                f"{plan.parameters:,} (partial connections or shared weights?)"
            )

    def _conv2d(
        self, layer: Mapping[str, Any], head: str, stated: tuple, todos: list[str], last: bool
    ) -> None:
        if len(self.shape) != 3:
            self._other(layer, head, stated, todos, last, why="a convolution needs a CxHxW input")
            return
        channels, height, width = self.shape
        if layer.get("in_channels") not in (None, channels):
            todos.append(
                f"{head.split(' (')[0]}: the paper gives {layer['in_channels']} input channels, "
                f"the previous layer gives {channels}"
            )
        out = layer.get("out_channels") or (stated[0] if stated else None)
        stride = layer.get("stride") or 1
        padding = layer.get("padding") or 0
        kernel = layer.get("kernel_size")
        if kernel is None and len(stated) == 3:  # from the stated size, stride and padding
            kernel = height + 2 * padding - (stated[1] - 1) * stride
        if not out or not kernel or kernel < 1:
            self._other(layer, head, stated, todos, last, why="kernel size or maps not stated")
            return
        size = (
            _out_size(height, kernel, stride, padding),
            _out_size(width, kernel, stride, padding),
        )
        if min(size) < 1:
            self._other(
                layer, head, stated, todos, last, why=f"a {kernel}x{kernel} kernel does not fit"
            )
            return
        arguments = f"{channels}, {out}, kernel_size={kernel}"
        arguments += f", stride={stride}" if stride != 1 else ""
        arguments += f", padding={padding}" if padding else ""
        self.emit(
            f"nn.Conv2d({arguments})",
            (out, *size),
            out * channels * kernel * kernel + out,
            f"{head}: conv {kernel}x{kernel}, {out} maps",
            todos,
        )

    def _pool(
        self,
        layer: Mapping[str, Any],
        head: str,
        stated: tuple,
        todos: list[str],
        last: bool,
        cls: str,
    ) -> None:
        if len(self.shape) != 3:
            self._other(layer, head, stated, todos, last, why="pooling needs a CxHxW input")
            return
        channels, height, width = self.shape
        kernel = layer.get("kernel_size")
        if kernel is None and len(stated) == 3 and stated[1] and height % stated[1] == 0:
            kernel = height // stated[1]
        if not kernel:
            self._other(layer, head, stated, todos, last, why="window not stated")
            return
        stride = layer.get("stride") or kernel
        padding = layer.get("padding") or 0
        size = (
            _out_size(height, kernel, stride, padding),
            _out_size(width, kernel, stride, padding),
        )
        arguments = f"kernel_size={kernel}" + (f", stride={stride}" if stride != kernel else "")
        arguments += f", padding={padding}" if padding else ""
        word = "max" if cls == "MaxPool2d" else "average"
        self.emit(
            f"nn.{cls}({arguments})",
            (channels, *size),
            0,
            f"{head}: {word} pool {kernel}x{kernel}",
            todos,
        )

    def _maxpool2d(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        self._pool(layer, head, stated, todos, last, "MaxPool2d")

    def _avgpool2d(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        self._pool(layer, head, stated, todos, last, "AvgPool2d")

    def _adaptive_avgpool2d(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        if len(self.shape) != 3 or len(stated) != 3:
            self._other(layer, head, stated, todos, last, why="needs a CxHxW input and output")
            return
        self.emit(
            f"nn.AdaptiveAvgPool2d(({stated[1]}, {stated[2]}))",
            (self.shape[0], stated[1], stated[2]),
            0,
            f"{head}: adaptive average pool",
            todos,
        )

    def _linear(
        self, layer: Mapping[str, Any], head: str, stated: tuple, todos: list[str], last: bool
    ) -> None:
        self.flatten_first(head.split(" (")[0])
        (features,) = self.shape
        if layer.get("in_features") not in (None, features):
            todos.append(
                f"{head.split(' (')[0]}: the paper gives {layer['in_features']} input features, "
                f"the previous layer gives {features}"
            )
        out = layer.get("out_features") or (stated[0] if len(stated) == 1 else None)
        if not out:
            self._other(layer, head, stated, todos, last, why="output features not stated")
            return
        width = "num_classes" if last and out == self.num_classes else str(out)
        self.emit(
            f"nn.Linear({features}, {width})",
            (out,),
            features * out + out,
            f"{head}: linear {features} -> {out}",
            todos,
        )

    def _flatten(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        self.emit("nn.Flatten()", (math.prod(self.shape),), 0, f"{head}: flatten", todos)

    def _dropout(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        p = layer.get("p")
        p = 0.5 if p is None else p
        if layer.get("p") is None:
            todos.append(f"{head.split(' (')[0]}: dropout probability not stated; 0.5 assumed")
        self.emit(f"nn.Dropout(p={p!r})", self.shape, 0, f"{head}: dropout", todos)

    def _batchnorm2d(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        if len(self.shape) != 3:
            self._other(layer, head, stated, todos, last, why="BatchNorm2d needs a CxHxW input")
            return
        channels = self.shape[0]
        self.emit(
            f"nn.BatchNorm2d({channels})", self.shape, 2 * channels, f"{head}: batch norm", todos
        )

    def _batchnorm1d(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        if len(self.shape) != 1:
            self._other(layer, head, stated, todos, last, why="BatchNorm1d needs a vector input")
            return
        features = self.shape[0]
        self.emit(
            f"nn.BatchNorm1d({features})", self.shape, 2 * features, f"{head}: batch norm", todos
        )

    def _local_response_norm(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        size = layer.get("kernel_size") or 5
        if layer.get("kernel_size") is None:
            todos.append(f"{head.split(' (')[0]}: LRN size not stated; 5 assumed")
        self.emit(f"nn.LocalResponseNorm({size})", self.shape, 0, f"{head}: LRN", todos)

    def _softmax(self, layer, head, stated, todos, last):  # type: ignore[no-untyped-def]
        if last:  # cross_entropy takes logits: a softmax here would be applied twice
            self.plans.append(
                LayerPlan(
                    "", self.shape, 0, f"{head}: softmax left out (cross_entropy applies it)", todos
                )
            )
            return
        self.emit("nn.Softmax(dim=1)", self.shape, 0, f"{head}: softmax", todos)

    def _map_stand_in(
        self, layer: Mapping[str, Any], shape: tuple[int, ...]
    ) -> tuple[str, int, str]:
        """The closest odyssey.nn layer for a feature map -> feature map layer of another
        kind: average pooling when the maps keep their number and shrink by a whole factor
        (subsampling), a full convolution when a kernel fits the shapes (partial connections),
        else adaptive average pooling and a 1x1 convolution. Returns (code, parameters, what
        stands in)."""
        channels, height, width = self.shape
        out, out_height, out_width = shape
        if (
            out == channels
            and height % out_height == 0
            and width % out_width == 0
            and height // out_height == width // out_width > 1
        ):
            factor = height // out_height
            return f"nn.AvgPool2d(kernel_size={factor})", 0, f"{factor}x{factor} average pooling"
        stride, padding = layer.get("stride") or 1, layer.get("padding") or 0
        kernel = layer.get("kernel_size")
        if kernel is None and stride == 1 and height - out_height == width - out_width:
            kernel = height + 2 * padding - out_height + 1
        if (
            kernel
            and 1 <= kernel <= _LARGEST_INFERRED_KERNEL
            and _out_size(height, kernel, stride, padding) == out_height
            and _out_size(width, kernel, stride, padding) == out_width
        ):
            arguments = f"{channels}, {out}, kernel_size={kernel}"
            arguments += f", stride={stride}" if stride != 1 else ""
            arguments += f", padding={padding}" if padding else ""
            parameters = out * channels * kernel * kernel + out
            return f"nn.Conv2d({arguments})", parameters, f"a full {kernel}x{kernel} convolution"
        code = (
            f"nn.Sequential(nn.AdaptiveAvgPool2d(({out_height}, {out_width})), "
            f"nn.Conv2d({channels}, {out}, kernel_size=1))"
        )
        return code, channels * out + out, "adaptive average pooling and a 1x1 convolution"

    def _other(
        self,
        layer: Mapping[str, Any],
        head: str,
        stated: tuple,
        todos: list[str],
        last: bool,
        why: str = "",
    ) -> None:
        name = head.split(" (")[0]
        what = one_line(layer.get("notes") or why or layer["type"], 160)
        shape = tuple(stated) or self.shape
        if shape == self.shape:
            code, params, stand_in = "nn.Identity()", 0, "Identity"
        elif len(shape) == 1:
            self.flatten_first(name)
            features = self.shape[0]
            width = "num_classes" if last and shape[0] == self.num_classes else str(shape[0])
            code, params = f"nn.Linear({features}, {width})", features * shape[0] + shape[0]
            stand_in = "a Linear layer"
        elif len(shape) == 3 and len(self.shape) == 3:
            code, params, stand_in = self._map_stand_in(layer, tuple(shape))
        else:
            code, params, stand_in, shape = "nn.Identity()", 0, "Identity", self.shape
        todos.append(
            f"{name}: odyssey.nn has no layer for this ({what}); {stand_in} stands in for it with "
            f"output {_shape_text(shape)}: write the paper's layer"
        )
        self.emit(code, shape, params, f"{head}: {what} (STAND-IN)", todos)


def _class_name(name: str) -> str:
    """The answer's class name when it is a usable one, else ``PaperModel``."""
    if name.isidentifier() and not keyword.iskeyword(name) and name[:1].isupper():
        return name
    return "PaperModel"


def _comment_lines(text: str, indent: str) -> list[str]:
    return [
        f"{indent}# {line}"
        for line in textwrap.wrap(text, width=_WIDTH - len(indent) - 2, break_on_hyphens=False)
    ]


def generate_model(architecture: Mapping[str, Any], title: str = "") -> GeneratedModel:
    """model.py for an answer's `architecture` (the output schema's): the class, every layer's
    code with its shape, parameter count, source and confidence as comments, and the TODOs."""
    input_shape = tuple(architecture.get("input_shape") or (1, 28, 28))
    num_classes = architecture.get("num_classes")
    planner = _Planner(input_shape, num_classes)
    layers = list(architecture.get("layers") or [])
    for index, layer in enumerate(layers):
        planner.layer(index, layer, last=index == len(layers) - 1)
    plans = planner.plans
    todos = [todo for plan in plans for todo in plan.todos]
    total = sum(plan.parameters for plan in plans)
    stated_total = architecture.get("total_parameters")
    if stated_total is not None and stated_total != total:
        todos.append(
            f"the paper states {stated_total:,} parameters in all, the model as written has "
            f"{total:,}"
        )
    if num_classes is not None and planner.shape != (num_classes,):
        todos.append(
            f"the model's output is {_shape_text(planner.shape)}, not one score per class "
            f"({num_classes}); check the last layers"
        )
    name = _class_name(str(architecture.get("name", "")))
    source = _render(name, input_shape, num_classes, plans, todos, total, title)
    return GeneratedModel(name, input_shape, num_classes, plans, total, todos, source)


def _render(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int | None,
    plans: list[LayerPlan],
    todos: list[str],
    total: int,
    title: str,
) -> str:
    doc_title = one_line(title, 200).replace("\\", "/").replace('"', "'") or "The paper"
    heading = textwrap.wrap(
        f"{doc_title}: the model as the research assistant read it (DRAFT).", _WIDTH - 3
    )
    lines = [
        f'"""{heading[0]}',
        *heading[1:],
        "",
        "Generated by `odyssey agent research` from the paper's text. Each layer's comment gives",
        "where the paper describes it, the assistant's confidence, the shape after it and its",
        "parameters; TODO(draft) comments mark what odyssey.nn does not express as the paper has",
        "it. Check every one against the paper before removing paper.toml's `draft = true`.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import odyssey",
        "from odyssey import nn",
        "",
        "",
        f"class {name}(nn.Module):",
        f'    """{_shape_text(input_shape)} input -> '
        f"{_shape_text(plans[-1].shape if plans else input_shape)} output; {total:,} parameters "
        'as written."""',
        "",
    ]
    default = num_classes if num_classes is not None else 10
    lines += [
        f"    def __init__(self, num_classes: int = {default}) -> None:",
        "        super().__init__()",
    ]
    if todos:
        lines += ["        # TODO(draft): what the code below does not do as the paper does:"]
        for todo in todos:
            lines += _comment_lines(f"- {one_line(todo, 400)}", "        ")
    lines += ["        self.layers = nn.Sequential("]
    for plan in plans:
        comment = f"{plan.comment} -> {_shape_text(plan.shape)}, {plan.parameters:,} parameters"
        lines += _comment_lines(one_line(comment, 400), "            ")
        for todo in plan.todos:
            lines += _comment_lines(f"TODO(draft): {one_line(todo, 400)}", "            ")
        if plan.code:
            lines.append(f"            {plan.code},")
    lines += [
        "        )",
        "",
        "    def forward(self, x: odyssey.Tensor) -> odyssey.Tensor:",
        "        return self.layers(x)",
        "",
    ]
    return "\n".join(lines)
