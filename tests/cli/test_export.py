"""latentlab export: ONNX files that ONNX Runtime runs and that match the model's own functions within 1e-5
at two batch sizes (1 and 7: the batch axis is free), for every family; refusals exit 2."""
import dataclasses

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from latentlab.cli.export import export_part, parts  # noqa: E402
from latentlab.cli.main import main  # noqa: E402
from latentlab.config import TrainConfig, from_dict  # noqa: E402
from latentlab.models import MODELS, SHOWER_MODELS, get_model_class  # noqa: E402
from latentlab.models.base import ConditionalEncoder, ConditionalSampler, LikelihoodModel  # noqa: E402
from latentlab.training.run_folder import CONFIG, WEIGHTS, load, save_weights, write_json  # noqa: E402

FAST = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--latent-dim", "4", "--hidden", "32", "--no-progress"]
BATCHES = (1, 7)
SHAPE = (1, 8, 8)


def fake_run(path, name: str, shape=SHAPE, num_classes=10, **settings):
    """A run folder of an untrained model (export does not care whether it learnt anything)."""
    cls = get_model_class(name)
    torch.manual_seed(0)
    model = cls(from_dict(cls.Config, settings), shape, num_classes)
    path.mkdir(parents=True)
    write_json(path / CONFIG, {"model": name, "train": dataclasses.asdict(TrainConfig()),
                               "model_config": dataclasses.asdict(model.cfg),
                               "data": {"name": "fake", "shape": list(shape), "num_classes": num_classes,
                                        "classes": None if num_classes is None else [str(i) for i in range(num_classes)]}})
    save_weights(model, path / WEIGHTS)
    return path


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(path, **feeds):
    return session(path).run(None, {k: v.numpy() for k, v in feeds.items()})


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ae"
    assert main(["train", "ae", *FAST, "--out", str(out)]) == 0
    return out


def test_cli_exports_decoder_and_encoder(ae_run, tmp_path, capsys):
    assert main(["export", str(ae_run), "--onnx", str(tmp_path / "ae.onnx")]) == 0
    out = capsys.readouterr().out
    assert "ae.onnx" in out and "ae.encoder.onnx" in out and "largest difference" in out
    model = load(ae_run)
    names = [i.name for i in session(tmp_path / "ae.onnx").get_inputs()]
    assert names == ["z"] and session(tmp_path / "ae.onnx").get_inputs()[0].shape == ["batch", 4]
    for b in BATCHES:
        z = torch.randn(b, 4)
        (images,) = run_onnx(tmp_path / "ae.onnx", z=z)
        np.testing.assert_allclose(images, model.decode(z).numpy(), atol=1e-5, rtol=0)
        assert images.shape == (b, *SHAPE) and images.min() >= 0 and images.max() <= 1
        x = torch.rand(b, *SHAPE)
        (codes,) = run_onnx(tmp_path / "ae.encoder.onnx", images=x)
        np.testing.assert_allclose(codes, model.latent(x).numpy(), atol=1e-5, rtol=0)


def test_cli_part_encoder_alone_and_properties(ae_run, tmp_path):
    import onnx
    assert main(["export", str(ae_run), "--onnx", str(tmp_path / "enc.onnx"), "--part", "encoder"]) == 0
    assert (tmp_path / "enc.onnx").exists() and not (tmp_path / "enc.encoder.onnx").exists()
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "enc.onnx")).metadata_props}
    assert props["model"] == "ae" and props["part"] == "encoder" and props["image_shape"] == "1x8x8"


# --- every family, through the model's own user-facing functions ------------------------------
IMAGE_MODELS = [("ae", {"arch": "conv-lecture1"}), ("ae", {"arch": "linear", "recon": "mse"}), ("vae", {"arch": "conv"}),
                ("cvae", {}), ("aae", {}), ("gan", {}), ("dcgan", {}), ("wgan-gp", {}), ("cgan", {"arch": "mlp"}),
                ("acgan", {}), ("infogan", {}), ("bigan", {})]


@torch.no_grad()
@pytest.mark.parametrize("name, settings", IMAGE_MODELS, ids=[f"{n}-{'-'.join(map(str, s.values()))}" for n, s in IMAGE_MODELS])
def test_image_models_match_pytorch(name, settings, tmp_path):
    torch.manual_seed(0)
    cls = MODELS[name]
    model = cls(from_dict(cls.Config, settings), SHAPE, 10).eval()
    available = parts(model)
    gen = torch.Generator().manual_seed(1)
    for part_name, part in available.items():
        path = export_part(part, tmp_path / f"{part_name}.onnx")
        for b in BATCHES:
            y = torch.randint(10, (b,), generator=gen)
            if part_name == "generator":
                codes = model.noise(b, y if isinstance(model, ConditionalSampler) else None, generator=gen)
                want = [model.generate(codes)]
                feeds = ({"z": codes[:, :-10], "labels": y} if isinstance(model, ConditionalSampler) else {"z": codes})
            elif part_name == "decoder":
                z = torch.randn(b, part.inputs["z"].shape[1], generator=gen)
                conditional = isinstance(model, ConditionalEncoder)
                want = [model.decode(z, y) if conditional else model.decode(z)]
                feeds = {"z": z, "labels": y} if conditional else {"z": z}
            else:
                x = torch.rand(b, *SHAPE, generator=gen)
                conditional = isinstance(model, ConditionalEncoder)
                if isinstance(model, LikelihoodModel):
                    want = list(model.posterior(x, y if conditional else None))
                else:
                    want = [model.latent(x)]
                feeds = {"images": x, "labels": y} if conditional else {"images": x}
            got = run_onnx(path, **feeds)
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.shape == tuple(w.shape)
                np.testing.assert_allclose(g, w.numpy(), atol=1e-5, rtol=0)
    if name in ("gan", "dcgan", "wgan-gp", "cgan", "acgan", "infogan"):
        assert set(available) == {"generator"}
    else:
        assert set(available) == ({"generator", "encoder"} if name == "bigan" else {"decoder", "encoder"})


@torch.no_grad()
@pytest.mark.parametrize("name", ["calo-wgan", "calo-vae"])
@pytest.mark.parametrize("calibrate", [False, True])
def test_shower_generator_is_generate_with_its_draws(name, calibrate, tmp_path):
    """(z, energy [, cell_noise] [, total_noise]) -> MeV: generate() given the draws, in the order it draws them."""
    cls = SHOWER_MODELS[name]
    torch.manual_seed(0)
    model = cls(from_dict(cls.Config, {"response_stochastic": 0.1 if calibrate else 0.0}), (1, 1, 504), None).eval()
    part = parts(model)["generator"]
    assert list(part.inputs)[:2] == ["z", "energy"] and ("total_noise" in part.inputs) == calibrate
    assert ("cell_noise" in part.inputs) == (name == "calo-vae")
    path = export_part(part, tmp_path / "showers.onnx")
    for b in BATCHES:
        energy = torch.linspace(2.0, 90.0, b)
        want = model.generate(energy, generator=torch.Generator().manual_seed(b))
        gen = torch.Generator().manual_seed(b)  # the same draws, in generate's order
        feeds = {"z": torch.randn(b, model.cfg.latent_dim, generator=gen), "energy": energy}
        if name == "calo-vae":
            feeds["cell_noise"] = torch.randn(b, model.cfg.n_cells, generator=gen)
        if calibrate:
            feeds["total_noise"] = torch.randn(b, generator=gen)
        np.testing.assert_array_equal(part.module(**feeds).numpy(), want.numpy())  # the wrapper is generate()
        (cells,) = run_onnx(path, **feeds)
        assert cells.shape == (b, 504) and cells.min() >= 0
        # within 1e-5 in the model's own output scale v = log1p(E / MeV) / log_scale (MeV magnify float32 rounding)
        v = lambda e: np.log1p(e) / model.cfg.log_scale  # noqa: E731
        np.testing.assert_allclose(v(cells), v(want.numpy()), atol=1e-5, rtol=0)
        np.testing.assert_allclose(cells, want.numpy(), rtol=1e-4, atol=1e-4)


def test_cli_shower_run(tmp_path, capsys):
    run = fake_run(tmp_path / "calo", "calo-wgan", shape=(1, 1, 504), num_classes=None)
    assert main(["export", str(run), "--onnx", str(tmp_path / "gen.onnx")]) == 0
    assert "energy (batch)" in capsys.readouterr().out
    assert [i.name for i in session(tmp_path / "gen.onnx").get_inputs()] == ["z", "energy"]
    assert main(["export", str(run), "--onnx", str(tmp_path / "enc.onnx"), "--part", "encoder"]) == 2


@pytest.mark.parametrize("name, args, message", [
    ("gaussian", [], "no decoder, generator or encoder"),
    ("dcgan", ["--part", "encoder"], "no encoder"),
    ("ae", ["--onnx", "model.pt"], "must end in .onnx"),
])
def test_refusals_exit_2(name, args, message, tmp_path, capsys):
    run = fake_run(tmp_path / name, name)
    onnx_path = [] if "--onnx" in args else ["--onnx", str(tmp_path / "x.onnx")]
    assert main(["export", str(run), *onnx_path, *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_run_exit_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "not a latentlab run folder" in capsys.readouterr().err
