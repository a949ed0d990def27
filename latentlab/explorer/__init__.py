"""The latent explorer: a local web page over a trained model (``latentlab explore RUN --serve``).

A small Flask app serves one page (``page.html``: plain JavaScript drawing the map on a <canvas>,
nothing fetched from the internet) and JSON endpoints over the maths of ``latentlab.analysis.explore``:

    GET  /                  the page
    GET  /api/info          the model, its latent, its labels, the slider directions
    GET  /api/map           the test codes on the map (N, 2) with their labels (models with an encoder)
    GET  /api/image/<i>     test image i as a PNG (what hovering a point shows)
    POST /api/decode        {"xy": [x, y]} | {"z": [D numbers]} | {"coords": [K numbers]} | {"z", "coords"}
    POST /api/sample        {"seed": s}: a draw from the model's prior
    POST /api/interpolate   {"a": i, "b": j, "steps": T}: linear and spherical, between test images i and j
                            (between prior draws seeded i and j for a GAN without encoder)

Every POST also takes "label" (a conditional model needs one) and "seed" (the rest of a GAN's input).
/api/decode and /api/sample answer one point, {"z": (D,), "coords": (K,), "xy": (2,) or null,
"image": PNG data URL}: ``coords`` are the slider coordinates, in standard deviations of the codes
along the leading directions (``LatentSpace``). A request the server cannot serve (not a JSON object,
an unknown field, a non-numeric coordinate, a wrong length, an index or a label out of range) is
answered HTTP 400 with {"error": message}, never a traceback. The server binds 127.0.0.1 only.
"""
from __future__ import annotations

import base64
import io
import math
import socket
import threading
from importlib import resources

import torch
from PIL import Image

from latentlab.analysis import explore
from latentlab.errors import LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, Encoder

HOST = "127.0.0.1"  # never another interface: the page decodes whatever it is sent
MAX_STEPS = 64  # interpolation frames per method
MAX_SEED = 2 ** 63 - 1
SLIDER_RANGE = 3.0  # sliders span +-3 standard deviations


class Refused(Exception):
    """A request the explorer cannot serve: answered 400 with this message."""


def png(image: torch.Tensor) -> bytes:
    """One image (C, H, W) in [0, 1] as PNG bytes (grey for one channel)."""
    a = (image.detach().float().clamp(0, 1).cpu() * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, C)
    out = io.BytesIO()
    Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(out, format="PNG")
    return out.getvalue()


def data_url(image: torch.Tensor) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode("ascii")


# --- reading requests --------------------------------------------------------------------------
def _json_object(request, allowed: tuple[str, ...]) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refused("send a JSON object with Content-Type: application/json, e.g. {\"xy\": [0.5, -1.2]}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Refused(f"unknown field {unknown[0]!r}: this endpoint takes {', '.join(allowed)}")
    return body


def _number(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise Refused(f"{what} must be a finite number, got {v!r}")
    return float(v)


def _vector(body: dict, key: str, n: int) -> torch.Tensor:
    v = body[key]
    if not isinstance(v, list) or len(v) != n:
        raise Refused(f"{key} must be a list of {n} numbers, got {v!r}"[:300])
    return torch.tensor([_number(x, f"{key}[{i}]") for i, x in enumerate(v)])


def _integer(body: dict, key: str, lo: int, hi: int, default: int | None = None, what: str = "") -> int:
    v = body.get(key, default)
    if v is None:
        raise Refused(f"{key} is missing: give an integer in {lo}..{hi}")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise Refused(f"{key} must be an integer in {lo}..{hi}, got {v!r}")
    if not lo <= v <= hi:
        raise Refused(f"{key} {int(v)} is outside {what or ''}{lo}..{hi}")
    return int(v)


class Explorer:
    """What the page explores: a model, its test split and the coordinates of its latent (kept in memory)."""

    def __init__(self, model, test=None, classes: list[str] | None = None, title: str = "", points: int = 5000):
        self.model = model.eval()
        self.title = title or model.name
        self.encoder = isinstance(model, Encoder)
        self.test = test if self.encoder else None  # a GAN without encoder has no use for test images
        self.space = explore.latent_space(model, self.test, points)
        self.conditional = isinstance(model, (ConditionalSampler, ConditionalEncoder))
        self.classes = classes
        self.lock = threading.Lock()  # one model call at a time: the server answers on several threads

    # --- answers -------------------------------------------------------------------------------
    def info(self) -> dict:
        s, k = self.space, self.model.num_classes if self.conditional else None
        return {"title": self.title, "model": self.model.name, "kind": "encoder" if self.encoder else "generator",
                "latent_dim": s.dim, "conditional": self.conditional, "num_classes": k,
                "classes": self.classes if self.classes else (list(map(str, range(k))) if k else None),
                "has_map": s.xy is not None, "axes": list(s.axes) if s.axes else None,
                "map_points": 0 if s.xy is None else len(s.xy),
                "directions": s.names, "slider_range": SLIDER_RANGE, "note": s.note,
                "test_size": 0 if self.test is None else len(self.test), "image_shape": list(self.model.shape),
                "interpolate_between": "test images" if self.encoder else "prior draws (seeds)",
                "methods": list(explore.METHODS)}

    def map(self) -> dict:
        s = self.space
        if s.xy is None:
            raise Refused(s.note)
        labels = None if s.labels is None else s.labels.tolist()
        return {"xy": [[round(a, 5), round(b, 5)] for a, b in s.xy.tolist()], "labels": labels, "axes": list(s.axes)}

    def image(self, index: str) -> bytes:
        if self.test is None:
            raise Refused(self.space.note)
        if not index.lstrip("-").isdigit():
            raise Refused(f"image index must be an integer in 0..{len(self.test) - 1}, got {index!r}")
        i = int(index)
        if not 0 <= i < len(self.test):
            raise Refused(f"image index {i} is outside the test split (0..{len(self.test) - 1})")
        return png(self.test.x[i])

    def _label(self, body: dict) -> int | None:
        if not self.conditional:
            if body.get("label") is not None:
                raise Refused(f"a '{self.model.name}' is not conditional: send no label")
            return None
        k = self.model.num_classes
        return _integer(body, "label", 0, k - 1, what="the trained classes ")

    def _seed(self, body: dict) -> int:
        return _integer(body, "seed", 0, MAX_SEED, default=0)

    def _point(self, z: torch.Tensor, label: int | None, seed: int) -> dict:
        with self.lock:
            image = explore.render(self.model, z[None], label, seed)[0]  # (C, H, W)
        xy = None if self.space.xy is None else self.space.to_xy(z).tolist()
        return {"z": z.tolist(), "coords": self.space.coords(z).tolist(), "xy": xy, "image": data_url(image)}

    def decode(self, body: dict) -> dict:
        """The image at a map position ``xy``, a latent vector ``z``, or slider coordinates ``coords`` (on ``z``)."""
        s = self.space
        label, seed = self._label(body), self._seed(body)
        if "xy" in body:
            if "z" in body or "coords" in body:
                raise Refused("send xy (a map position) alone, or z and/or coords")
            if s.xy is None:
                raise Refused(s.note)
            z = s.from_xy(_vector(body, "xy", 2))
        elif "z" in body:
            z = _vector(body, "z", s.dim)
        elif "coords" in body:
            z = s.origin.clone()
        else:
            raise Refused(f"send xy (a map position), z ({s.dim} numbers) or coords ({len(s.names)} slider values)")
        if "coords" in body:
            z = s.move(z, _vector(body, "coords", len(s.names)))
        return self._point(z, label, seed)

    def sample(self, body: dict) -> dict:
        label, seed = self._label(body), self._seed(body)
        z = explore.prior_codes(self.model, 1, torch.Generator().manual_seed(seed))[0]  # (D,)
        return {**self._point(z, label, seed), "seed": seed}

    def interpolate(self, body: dict) -> dict:
        """Frames from a to b, one list of PNG data URLs per method (and the two test images at the ends)."""
        label, seed = self._label(body), self._seed(body)
        steps = _integer(body, "steps", 2, MAX_STEPS, default=10)
        if self.encoder:
            n = len(self.test)
            a, b = (_integer(body, k, 0, n - 1, what="the test split ") for k in ("a", "b"))
            with self.lock:
                za, zb = explore.codes_of(self.model, self.test, [a, b])
            ends = [data_url(self.test.x[a]), data_url(self.test.x[b])]
        else:
            a, b = (_integer(body, k, 0, MAX_SEED) for k in ("a", "b"))
            za, zb = (explore.prior_codes(self.model, 1, torch.Generator().manual_seed(v))[0] for v in (a, b))
            ends = None
        out = {"ends": ends}
        for method in explore.METHODS:
            with self.lock:
                images = explore.interpolate(self.model, za, zb, steps, method, label, seed)
            out[method] = [data_url(im) for im in images]
        return out


def create_app(explorer: Explorer):
    """The Flask app over an Explorer."""
    try:
        from flask import Flask, Response, jsonify, request
        from werkzeug.exceptions import HTTPException
    except ImportError as e:
        raise LatentlabError("the explorer needs Flask: pip install 'latentlab[explorer]' (or pip install flask)") from e

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20  # a point is a few hundred bytes
    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    @app.errorhandler(Refused)
    @app.errorhandler(LatentlabError)
    def refused(e):
        return jsonify(error=str(e)), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        return jsonify(error=f"{e.name}: {e.description}"), e.code

    @app.errorhandler(Exception)
    def failed(e):  # a bug, not a bad request: a message, still no traceback to the page
        app.logger.exception("explorer request failed")
        return jsonify(error=f"internal error: {type(e).__name__}: {e}"), 500

    @app.get("/")
    def index():
        return Response(page, mimetype="text/html")

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.get("/api/info")
    def info():
        return jsonify(explorer.info())

    @app.get("/api/map")
    def latent_map():
        return jsonify(explorer.map())

    @app.get("/api/image/<index>")
    def image(index: str):
        return Response(explorer.image(index), mimetype="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/decode")
    def decode():
        return jsonify(explorer.decode(_json_object(request, ("xy", "z", "coords", "label", "seed"))))

    @app.post("/api/sample")
    def sample():
        return jsonify(explorer.sample(_json_object(request, ("seed", "label"))))

    @app.post("/api/interpolate")
    def interpolate():
        return jsonify(explorer.interpolate(_json_object(request, ("a", "b", "steps", "label", "seed"))))

    return app


def make_server(explorer: Explorer, port: int = 0):
    """A threaded WSGI server for the app on 127.0.0.1:port (0: a free port; ``server.port`` says
    which). Call ``serve_forever()``; ``shutdown()`` from another thread stops it."""
    from werkzeug.serving import WSGIRequestHandler, make_server as wsgi_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # no line per request; errors are still logged
            pass

    app = create_app(explorer)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # bound here: werkzeug exits the process on a busy port
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same port right after Ctrl-C
    try:
        sock.bind((HOST, port))
        sock.listen(128)
        return wsgi_server(HOST, sock.getsockname()[1], app, threaded=True, request_handler=Quiet, fd=sock.fileno())
    except OSError as e:
        raise LatentlabError(f"cannot listen on {HOST}:{port} ({e.strerror or e}): choose another --port, "
                             "or --port 0 for a free one") from e
    finally:
        sock.close()  # the server holds its own duplicate of the socket
