"""Fixtures shared by the suites: run a test under every ISA the machine can run; gradcheck; keep
tests off the network; a local HTTP mirror for the download tests; torch with a correctly rounded
sqrt for the optimizers' ulp comparisons."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest

import odyssey

AVAILABLE_ISAS: list[str] = odyssey.cpu_info()["isa_available"]


@pytest.fixture(params=AVAILABLE_ISAS)
def isa(request: pytest.FixtureRequest) -> Iterator[str]:
    """Selects each runnable kernel variant in turn and restores the previous one."""
    previous = odyssey.cpu_info()["isa_selected"]
    odyssey.set_isa(request.param)
    yield request.param
    odyssey.set_isa(previous)


@pytest.fixture
def correctly_rounded_torch_sqrt() -> Iterator[Any]:
    """torch (skipped when missing) with Tensor.sqrt and sqrt_ rounded correctly (NumPy's).

    torch 2.13's CPU float32 sqrt is not correctly rounded: an ulp low on 0.5-0.7 % of inputs
    (measured on x86-64 with AVX-512). With a correctly rounded one in its place, odyssey's
    optimizers, which perform torch.optim's single-tensor operations (foreach=False) in the same
    order with the same fused multiply-adds, give torch's bits.
    """
    torch = pytest.importorskip("torch")

    def sqrt(self: Any) -> Any:
        return torch.from_numpy(np.sqrt(self.detach().numpy()))

    def sqrt_(self: Any) -> Any:
        return self.copy_(sqrt(self))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.Tensor, "sqrt", sqrt)
        patch.setattr(torch.Tensor, "sqrt_", sqrt_)
        yield torch


@pytest.fixture
def threads() -> Iterator[None]:
    """Lets a test change the thread count; restores it afterwards."""
    previous = odyssey.get_num_threads()
    yield
    odyssey.set_num_threads(previous)


# --- No test touches the network: only loopback addresses resolve or connect. -----------------

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback(host):
        raise socket.gaierror(f"tests may not resolve {host!r}: no network in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


def _loopback_connect(self: socket.socket, address) -> None:  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise ConnectionRefusedError(f"tests may not connect to {address!r}: no network in tests")
    _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes any accidental real-URL access fail at once instead of reaching the internet."""
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", _loopback_connect)


# --- A mirror on 127.0.0.1 for the download tests. ---------------------------------------------


class MirrorServer:
    """Serves `files` (path -> bytes) over HTTP on 127.0.0.1 from a thread.

    Paths under /cut/ announce the full Content-Length but close the connection halfway; paths
    under /endless/ announce no length and repeat the body until the client hangs up; paths not
    in `files` answer 404. `requests` records every path asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                cut = self.path.startswith("/cut/")
                endless = self.path.startswith("/endless/")
                path = self.path.removeprefix("/cut").removeprefix("/endless")
                body = server.files.get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if endless:
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(body)
                    except OSError:  # the client stopped reading
                        self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                if cut:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def mirror() -> Iterator[MirrorServer]:
    server = MirrorServer()
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _gradcheck(
    function: Callable[..., odyssey.Tensor],
    reference: Callable[..., np.ndarray],
    inputs: Sequence[np.ndarray],
    rtol: float = 2e-3,
    atol: float = 2e-3,
    eps: float = 1e-6,
) -> None:
    """Checks `function` on float32 tensors against a float64 NumPy `reference`: the forward
    values, and every input's gradient of sum(output * w) for random weights w against central
    differences of the reference."""
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    tensors = [odyssey.tensor(a, requires_grad=True) for a in arrays]
    out = function(*tensors)
    expected = np.asarray(reference(*arrays), dtype=np.float64)
    np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)
    weights = np.random.default_rng(0).uniform(0.5, 1.5, expected.shape)
    (out * odyssey.tensor(weights)).sum().backward()
    for index, (array, t) in enumerate(zip(arrays, tensors, strict=True)):
        numeric = np.empty_like(array)
        flat = array.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            plus = float(np.sum(reference(*arrays) * weights))
            flat[i] = saved - eps
            minus = float(np.sum(reference(*arrays) * weights))
            flat[i] = saved
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        assert t.grad is not None, f"input {index} got no gradient"
        assert t.grad.dtype == np.float32
        np.testing.assert_allclose(
            t.grad.data, numeric, rtol=rtol, atol=atol, err_msg=f"gradient of input {index}"
        )


@pytest.fixture
def gradcheck() -> Callable[..., None]:
    """`gradcheck(function, reference, inputs, rtol=, atol=)`: forward and finite differences."""
    return _gradcheck
