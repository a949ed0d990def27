"""The latent explorer (latentlab explore RUN --serve): its JSON endpoints through Flask's test client,
and the page in a real headless browser (Debian's chromium + chromedriver driven by Selenium; skipped,
with the reason, where they are not installed)."""
import base64
import io
import shutil
import socket
import tempfile
import threading

import pytest
import torch
from PIL import Image

import latentlab
from latentlab.analysis import explore
from latentlab.errors import LatentlabError
from latentlab.models import get_model_class
from latentlab.training.run_folder import load, read_run, run_dataset
from latentlab.explorer import Explorer, create_app, make_server, png

# conftest's TINY settings (module scope cannot take its function-scoped fixture)
TINY = dict(dataset="digits", epochs=1, batch_size=64, latent_dim=4, hidden=32, progress=False)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A tiny VAE trained for one epoch on digits (4-D latent: the map is a PCA)."""
    run = latentlab.train("vae", out=str(tmp_path_factory.mktemp("explorer") / "run"), **TINY)
    return run.dir


@pytest.fixture(scope="module")
def explorer(vae_run):
    return Explorer(load(vae_run), run_dataset(vae_run).test, read_run(vae_run).classes, title="tiny")


@pytest.fixture(scope="module")
def client(explorer):
    return create_app(explorer).test_client()


def picture(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# --- (a) the endpoints -----------------------------------------------------------------------------
def test_page_and_info(client, explorer):
    page = client.get("/")
    assert page.status_code == 200 and b"<canvas" in page.data
    assert b"http://" not in page.data and b"https://" not in page.data  # nothing from the internet
    info = client.get("/api/info").get_json()
    n = len(explorer.test)
    assert info["kind"] == "encoder" and info["latent_dim"] == 4 and info["has_map"] and info["map_points"] == n
    assert info["directions"] == ["PC1", "PC2", "PC3", "PC4"] and info["classes"] == [str(i) for i in range(10)]
    assert info["test_size"] == n and info["image_shape"] == [1, 8, 8] and not info["conditional"]
    assert info["methods"] == ["linear", "slerp"] and "principal components" in info["note"]


def test_map_and_hover_images(client, explorer):
    m = client.get("/api/map").get_json()
    n = len(explorer.test)
    assert len(m["xy"]) == n and all(len(p) == 2 for p in m["xy"]) and len(m["labels"]) == n
    z = explore.codes(explorer.model, explorer.test.x)
    assert torch.allclose(torch.tensor(m["xy"]), (z - z.mean(0)) @ explorer.space.basis[:2].T, atol=1e-4)
    r = client.get("/api/image/5")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.data == png(explorer.test.x[5])
    assert Image.open(io.BytesIO(r.data)).size == (8, 8)


def test_decode_a_map_point_a_vector_and_slider_coordinates(client, explorer):
    space, model = explorer.space, explorer.model
    p = post(client, "/api/decode", {"xy": [0.05, -0.02]})
    assert len(p["z"]) == 4 and len(p["coords"]) == 4 and p["xy"] == pytest.approx([0.05, -0.02], abs=1e-5)
    assert picture(p["image"]).size == (8, 8)
    assert torch.allclose(torch.tensor(p["z"]), space.from_xy(torch.tensor([0.05, -0.02])), atol=1e-6)  # PCA inverse
    z = [0.1, -0.2, 0.3, 0.0]
    q = post(client, "/api/decode", {"z": z})
    assert q["z"] == pytest.approx(z) and picture(q["image"]).tobytes() == Image.open(
        io.BytesIO(png(explore.decode(model, torch.tensor([z]))[0]))).tobytes()
    c = post(client, "/api/decode", {"coords": [1.0, 0.0, -1.0, 0.0]})
    assert c["coords"] == pytest.approx([1.0, 0.0, -1.0, 0.0], abs=1e-4)
    moved = post(client, "/api/decode", {"z": z, "coords": [2.0, *q["coords"][1:]]})  # one slider moved
    assert moved["coords"] == pytest.approx([2.0, *q["coords"][1:]], abs=1e-4)
    step = torch.tensor(moved["z"]) - torch.tensor(z)
    assert torch.allclose(step, (2.0 - q["coords"][0]) * space.scale[0] * space.basis[0], atol=1e-5)  # along PC1 only
    far = post(client, "/api/decode", {"coords": [3.0, 3.0, 0.0, 0.0]})
    assert far["image"] != c["image"]


def test_sample_and_interpolate(client, explorer):
    a, b = post(client, "/api/sample", {"seed": 1}), post(client, "/api/sample", {"seed": 2})
    assert a["seed"] == 1 and len(a["z"]) == 4 and a["z"] != b["z"]
    assert post(client, "/api/sample", {"seed": 1})["z"] == a["z"]  # the seed is the draw
    r = post(client, "/api/interpolate", {"a": 3, "b": 42, "steps": 5})
    assert len(r["linear"]) == len(r["slerp"]) == 5 and len(r["ends"]) == 2
    assert picture(r["ends"][1]).tobytes() == Image.open(io.BytesIO(png(explorer.test.x[42]))).tobytes()
    za = explore.codes(explorer.model, explorer.test.x[[3]])
    assert picture(r["linear"][0]).tobytes() == Image.open(io.BytesIO(png(explore.decode(explorer.model, za)[0]))).tobytes()
    assert len(post(client, "/api/interpolate", {"a": 0, "b": 1})["slerp"]) == 10  # default steps


@pytest.mark.parametrize("method,path,body,message", [
    ("post", "/api/decode", {"xy": ["a", 1]}, "xy[0] must be a finite number"),
    ("post", "/api/decode", {"xy": [1.0]}, "list of 2 numbers"),
    ("post", "/api/decode", {"xy": [1e400, 0]}, "finite number"),
    ("post", "/api/decode", {"z": [0, 0, 0]}, "list of 4 numbers"),
    ("post", "/api/decode", {"coords": [0, 0, True, 0]}, "coords[2] must be a finite number"),
    ("post", "/api/decode", {"xy": [0, 0], "z": [0, 0, 0, 0]}, "alone"),
    ("post", "/api/decode", {}, "send xy"),
    ("post", "/api/decode", {"xy": [0, 0], "label": 3}, "not conditional"),
    ("post", "/api/decode", {"xy": [0, 0], "zoom": 2}, "unknown field 'zoom'"),
    ("post", "/api/decode", [1, 2], "JSON object"),
    ("post", "/api/sample", {"seed": -1}, "seed -1 is outside"),
    ("post", "/api/sample", {"seed": "7"}, "seed must be an integer"),
    ("post", "/api/interpolate", {"a": 0, "b": 100000}, "b 100000 is outside the test split"),
    ("post", "/api/interpolate", {"a": 0.5, "b": 1}, "a must be an integer"),
    ("post", "/api/interpolate", {"b": 1}, "a is missing"),
    ("post", "/api/interpolate", {"a": 0, "b": 1, "steps": 1}, "steps 1 is outside 2..64"),
    ("get", "/api/image/100000", None, "outside the test split"),
    ("get", "/api/image/seven", None, "must be an integer"),
])
def test_bad_requests_get_400_and_a_message(client, method, path, body, message):
    r = client.post(path, json=body) if method == "post" else client.get(path)
    assert r.status_code == 400 and r.is_json
    assert message in r.get_json()["error"]


def test_not_json_unknown_routes_and_methods_answer_json(client):
    r = client.post("/api/decode", data="{not json", content_type="application/json")
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]
    assert client.get("/api/nothing").status_code == 404 and "error" in client.get("/api/nothing").get_json()
    assert client.get("/api/decode").status_code == 405


def test_exact_map_of_a_2d_conditional_model(tiny_models):
    cvae = Explorer(tiny_models["cvae"], latentlab.load_dataset("digits").test, None)
    c = create_app(cvae).test_client()
    info = c.get("/api/info").get_json()
    assert info["conditional"] and info["num_classes"] == 10 and info["classes"] == [str(i) for i in range(10)]
    assert info["axes"] == ["z1", "z2"]
    p = post(c, "/api/decode", {"xy": [0.5, -1.25], "label": 3})
    assert p["z"] == pytest.approx([0.5, -1.25]) and p["xy"] == pytest.approx([0.5, -1.25])  # exact for a 2-D latent
    assert post(c, "/api/decode", {"xy": [0.5, -1.25], "label": 8})["image"] != p["image"]
    assert len(post(c, "/api/interpolate", {"a": 0, "b": 1, "steps": 3, "label": 2})["linear"]) == 3
    for body, message in [({"xy": [0, 0]}, "label is missing"), ({"xy": [0, 0], "label": 10}, "label 10 is outside"),
                          ({"xy": [0, 0], "label": "2"}, "label must be an integer")]:
        r = c.post("/api/decode", json=body)
        assert r.status_code == 400 and message in r.get_json()["error"]


def test_a_gan_without_encoder_offers_sliders_and_sampling(tiny_models):
    c = create_app(Explorer(tiny_models["cgan"])).test_client()
    info = c.get("/api/info").get_json()
    assert info["kind"] == "generator" and not info["has_map"] and "no encoder" in info["note"]
    assert info["directions"] == [f"z{i}" for i in range(1, 7)] and info["interpolate_between"].startswith("prior draws")
    p = post(c, "/api/decode", {"coords": [1, 0, 0, 0, 0, 0], "label": 4})
    assert p["xy"] is None and len(p["z"]) == 8 and p["z"][0] == pytest.approx(1.0)
    assert post(c, "/api/sample", {"seed": 3, "label": 4})["image"] != post(c, "/api/sample", {"seed": 4, "label": 4})["image"]
    r = post(c, "/api/interpolate", {"a": 1, "b": 2, "steps": 4, "label": 0})
    assert r["ends"] is None and len(r["linear"]) == 4
    for method, path, body in [("get", "/api/map", None), ("get", "/api/image/0", None),
                               ("post", "/api/decode", {"xy": [0, 0], "label": 1})]:
        r = c.post(path, json=body) if method == "post" else c.get(path)
        assert r.status_code == 400 and "no encoder" in r.get_json()["error"]


def test_refusals_before_serving(tiny_models):
    gaussian = get_model_class("gaussian")
    with pytest.raises(LatentlabError, match="no latent space"):
        Explorer(gaussian(gaussian.Config(), (1, 8, 8)))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(LatentlabError, match="cannot listen"):
            make_server(Explorer(tiny_models["cgan"]), busy.getsockname()[1])


@pytest.fixture(scope="module")
def tiny_models():
    """Untrained models: the endpoints' shapes and refusals do not depend on training."""
    torch.manual_seed(0)
    cvae, cgan = get_model_class("cvae"), get_model_class("cgan")
    return {"cvae": cvae(cvae.Config(latent_dim=2, hidden=32), (1, 8, 8), num_classes=10).eval(),
            "cgan": cgan(cgan.Config(latent_dim=8, arch="mlp", hidden=32, layers=1), (1, 8, 8), num_classes=10).eval()}


# --- (b) the page in a real browser -----------------------------------------------------------------
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000"]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Selenium through chromedriver; skipped when one of them is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None:
        pytest.skip("no chromium browser on PATH (Debian: apt-get install chromium chromium-driver)")
    if driver is None:
        pytest.skip("no chromedriver on PATH (Debian: apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        b = webdriver.Chrome(options=options, service=Service(driver))
        b.set_page_load_timeout(30)
        yield b
        b.quit()


@pytest.fixture(scope="module")
def server(explorer):
    s = make_server(explorer, 0)  # a free port on 127.0.0.1
    assert s.host == "127.0.0.1"
    thread = threading.Thread(target=s.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{s.port}/"
    s.shutdown()
    s.server_close()


def test_the_page_in_a_browser(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(server)
    wait.until(lambda b: b.execute_script("return document.body.dataset.ready === '1'"))
    assert "tiny" in browser.find_element(By.ID, "title").text
    assert browser.find_element(By.ID, "status").text == ""
    decoded = browser.find_element(By.ID, "decoded")
    first = decoded.get_attribute("src")
    assert first.startswith("data:image/png;base64,")

    # a click on the map decodes that point
    canvas = browser.find_element(By.ID, "map")
    ActionChains(browser).move_to_element_with_offset(canvas, 230, -230).click().perform()  # a corner, far from the mean
    wait.until(lambda b: decoded.get_attribute("src") != first)
    clicked = decoded.get_attribute("src")
    assert browser.find_element(By.ID, "o0").text != "0.00"  # the sliders follow the point

    # a slider moves it along the first direction
    slider = browser.find_element(By.ID, "s2")
    slider.send_keys(Keys.END)  # PC3 to +3 standard deviations
    wait.until(lambda b: decoded.get_attribute("src") != clicked)
    assert browser.find_element(By.ID, "o2").text == "3.00"

    # hovering a test point shows its image
    px, py = browser.execute_script("const p = toPx(points[5]); return [p[0], p[1]];")
    ActionChains(browser).move_to_element_with_offset(canvas, int(px - 260), int(py - 260)).perform()
    wait.until(lambda b: b.find_element(By.ID, "tip").is_displayed())
    assert "/api/image/" in browser.find_element(By.ID, "tip-img").get_attribute("src")

    # interpolation between two test images: one strip per method, the inputs at both ends
    for key, value in (("ia", "3"), ("ib", "42"), ("steps", "6")):
        field = browser.find_element(By.ID, key)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.ID, "interp").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#strip-slerp img")) == 8)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#strip-linear img")) == 8
    assert browser.find_element(By.ID, "play-linear").get_attribute("src").startswith("data:image/png")

    # the server refuses a bad request, and the page says why
    field = browser.find_element(By.ID, "ib")
    field.clear()
    field.send_keys("99999")
    browser.find_element(By.ID, "interp").click()
    wait.until(lambda b: "outside the test split" in b.find_element(By.ID, "status").text)
    assert browser.find_element(By.ID, "status").get_attribute("class") == "error"
    status, answer = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/decode', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"xy": ["left", 1]}'})
          .then(r => r.json().then(j => done([r.status, j])));""")
    assert status == 400 and "finite number" in answer["error"]
