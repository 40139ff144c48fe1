"""Training gives the same weight bytes in two processes whose arrays land at different addresses.

DESIGN §4: the same seed gives bitwise-identical weights whatever the addresses NumPy gives the
arrays, in this process or another one. Two fresh interpreters train the README's LeNet-5 for 20
SGD-momentum steps on batches of the bundled mnist-sample; one first makes odd-sized allocations
that it keeps, so that every later array sits elsewhere in its heap, and also hands the model its
input batches at a float offset of its own. Their final weights must match byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import odyssey

TRAIN = r"""
import hashlib
import sys

import numpy as np

import odyssey as ody
import odyssey.nn.functional as F
from odyssey import nn, optim
from odyssey.data import load_dataset

disturb = int(sys.argv[1])
# Odd-sized blocks kept alive shift where the allocator places everything after them.
kept = [np.empty(7 * k + disturb * 13, np.uint8) for k in range(1, 40 * disturb + 1)]


def at_offset(values, offset):
    # A float32 copy of `values` starting `offset` floats past a 64-byte boundary.
    raw = np.empty(values.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + 4 * offset
    view = raw[start : start + values.nbytes].view(np.float32).reshape(values.shape)
    view[...] = values
    return view


data = load_dataset("mnist-sample", "train")
ody.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
)
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
batch = 32
for step in range(20):
    rows = slice(step * batch, (step + 1) * batch)
    images = (data.images[rows].astype(np.float32) / 255)[:, None]
    images = at_offset(images, (step * 5 + disturb * 3) % 17)
    labels = data.labels[rows].copy()
    loss = F.cross_entropy(model(ody.from_numpy(images)), ody.from_numpy(labels))
    opt.zero_grad()
    loss.backward()
    opt.step()
digest = hashlib.sha256()
for name, value in sorted(model.state_dict().items()):
    digest.update(name.encode() + np.ascontiguousarray(value).tobytes())
print(digest.hexdigest())
"""


def train_in_fresh_process(isa: str, disturb: int) -> str:
    env = {**os.environ, "ODYSSEY_ISA": isa}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN, str(disturb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("isa", odyssey.cpu_info()["isa_available"])
def test_weights_do_not_depend_on_the_heap_layout(isa: str) -> None:
    plain = train_in_fresh_process(isa, 0)
    disturbed = train_in_fresh_process(isa, 1)
    assert len(plain) == 64
    assert plain == disturbed
