"""``lstm-mnist demo``: the functions behind the page, and the page the installed script serves."""

import shutil
import socket
import subprocess
import time

import pytest
import torch

from lstm_mnist.cli.main import gathered
from lstm_mnist.tools.classifier import Classifier
from lstm_mnist.tools.demo import at_row, read_drawing, read_photo
from lstm_mnist.tools.reading import Reading
from tests.helpers import (
    assert_one_line_error,
    best_checkpoint,
    draw_seven,
    in_process,
    lstm_mnist,
)


@pytest.fixture(scope="module")
def readers(trained_run):
    checkpoint = str(best_checkpoint(trained_run))
    return [Classifier(checkpoint, "padded"), Classifier(checkpoint)]


def test_a_drawing_is_read_row_by_row_by_every_model(readers):
    drawing = {"composite": draw_seven(mode="RGBA", ink=0, paper=255)}
    seen, first, second, figure, summary, state, row = read_drawing(drawing, readers)
    assert seen.shape == (280, 280)  # the 28x28 digit, each pixel a 10x10 block
    assert len(first) == len(second) == 3  # top 3
    assert figure.size[0] > figure.size[1] / 3  # one picture: the digit beside both readings
    assert "**padded** reads" in summary
    assert f"**{readers[1].name}** reads" in summary
    assert len(state["readings"][0]) == 28
    assert row == 27


def test_the_slider_reveals_rows_and_gives_the_guess_there(readers):
    drawing = {"composite": draw_seven()}
    state = read_drawing(drawing, readers)[5]
    revealed, inside, *guesses = at_row(5, state, readers)
    assert inside.size[0] > 500  # the memory and gates of the first model, row 5 marked
    digit = torch.tensor(state["digit"])
    shown = torch.tensor(revealed[::10, ::10])
    assert torch.equal(shown[:6], digit[:6])
    assert torch.equal(shown[6:], digit[6:] // 5)  # the rows still to come, dimmed
    probs = torch.tensor(state["readings"][0][5])
    assert guesses[0] == {str(int(c)): float(probs[c]) for c in probs.argsort(descending=True)[:3]}


def test_a_cropped_reader_dims_the_border_it_never_reads(cropped_checkpoint):
    readers = [Classifier(cropped_checkpoint, "cropped")]
    state = read_drawing({"composite": draw_seven()}, readers)[-2]  # one model: the state
    assert len(state["readings"][0]) == 24
    state["digit"] = [[200] * 28] * 28  # ink everywhere, so that every dimmed pixel shows
    revealed, _, guess = at_row(12, state, readers)
    shown = torch.tensor(revealed[::10, ::10]).long()
    assert (shown[2:13, 2:26] == 200).all()  # rows 2-12: steps 0-10, read
    assert (shown[13:26, 2:26] == 40).all()  # still to come
    assert (shown[:2] == 40).all()  # never read
    assert (shown[:, 26:] == 40).all()
    reading = Reading(torch.tensor(state["readings"][0]))
    assert guess == reading.top(3, 10)
    assert at_row(0, state, readers)[2] == reading.top(3, 0)  # row 0 is cut: the first step's


def test_bad_input_is_a_message_on_the_page(readers, tmp_path):
    blank = {"composite": draw_seven(ink=255, paper=255)}
    assert "no ink" in read_drawing(blank, readers)[4]
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    message = read_photo(str(notes), readers)[4]
    assert message.startswith("**Cannot read this:** notes.png: not an image")
    assert str(tmp_path) not in message
    assert "Draw a digit" in read_photo(None, readers)[4]


def test_repeated_checkpoints_are_gathered_into_one_list():
    args = ["--ckpt_path", "a.ckpt", "--port", "1", "--ckpt_path=b.ckpt", "--name", "A"]
    assert gathered(args) == [
        "--port",
        "1",
        "--ckpt_path",
        '["a.ckpt", "b.ckpt"]',
        "--name",
        '["A"]',
    ]


def test_the_demo_with_a_missing_checkpoint_names_it(tmp_path, capsys):
    # in-process: the script's door is walked by the test below
    missing = tmp_path / "missing.ckpt"
    result = in_process("demo", "--ckpt_path", missing, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, "missing.ckpt")


def test_the_demo_without_a_checkpoint_reads_with_the_packaged_model(tmp_path):
    # A port already taken: the page is built with the packaged model, said so, then refused in
    # one line, without serving (the browser tests serve a page).
    pytest.importorskip("gradio")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = lstm_mnist("demo", "--port", port, cwd=tmp_path)
    assert "demo: the pretrained model in the package" in result.stdout
    assert_one_line_error(result, f"cannot serve on 127.0.0.1:{port}", "pass --port")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def served_demo(trained_run, tmp_path_factory):
    """The page, served by the installed script from a folder of its own: its address."""
    pytest.importorskip("gradio")
    checkpoint, port = best_checkpoint(trained_run), 7870
    script = shutil.which("lstm-mnist")
    command = [script, "demo", "--ckpt_path", str(checkpoint), "--name", "padded"]
    folder = tmp_path_factory.mktemp("demo")
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    server = subprocess.Popen([*command, "--port", str(port)], cwd=folder, **output)
    lines = iter(server.stdout.readline, "")
    started = next((line for line in lines if "Running on local URL" in line), "")
    assert f"http://127.0.0.1:{port}" in started
    yield f"http://127.0.0.1:{port}/"
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.xdist_group("demo")
def test_the_installed_script_serves_the_page(served_demo, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    draw_seven().save(tmp_path / "seven.png")
    client = gradio_client.Client(served_demo, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")
    assert sorted(api["named_endpoints"]) == ["/read_drawing", "/read_photo", "/row"]
    started = time.perf_counter()
    result = client.predict(gradio_client.handle_file(str(tmp_path / "seven.png")),
                            api_name="/read_photo")  # fmt: skip
    assert time.perf_counter() - started < 10  # the test suite runs beside it
    label, summary = result[1], result[3]
    assert label["label"] in "0123456789"
    assert len(label["confidences"]) == 3
    assert f"**padded** reads **{label['label']}**" in summary


@pytest.mark.xdist_group("demo")
def test_a_real_browser_uploads_a_seven_and_reads_the_answer(served_demo, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        pytest.skip("Chromium and its driver are not installed (Debian: chromium chromium-driver)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(served_demo)
        wait = WebDriverWait(browser, 60)
        photo_tab = "//button[@role='tab' and normalize-space()='Photo']"
        wait.until(lambda b: b.find_element(By.XPATH, photo_tab)).click()  # renders the tab
        draw_seven().save(tmp_path / "seven.png")
        upload = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#photo input[type=file]"))
        browser.execute_script("arguments[0].style.display = 'block'", upload)  # Gradio hides it
        upload.send_keys(str(tmp_path / "seven.png"))
        summary = wait.until(lambda b: "reads" in b.find_element(By.ID, "summary").text and b)
        text = summary.find_element(By.ID, "summary").text
        assert "padded reads" in text
        assert "settles on" in text
        reading = browser.find_element(By.CSS_SELECTOR, "#reading img")
        assert reading.get_attribute("src")
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()


@pytest.mark.xdist_group("demo")
def test_a_real_browser_draws_a_seven_with_the_mouse_and_sees_inside(served_demo, tmp_path):
    # The pad opens with its brush selected (Gradio's own opening says "select the draw tool to
    # start"); a drag with the mouse draws on its 2D canvas, and the page reads the drawing.
    webdriver = pytest.importorskip("selenium.webdriver")
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        pytest.skip("Chromium and its driver are not installed (Debian: chromium chromium-driver)")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(served_demo)
        wait = WebDriverWait(browser, 60)
        pad = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#pad canvas") and b)
        wait.until(lambda b: "select the draw tool" not in b.find_element(By.ID, "pad").text)
        canvas = pad.find_elements(By.CSS_SELECTOR, "#pad canvas")[-1]
        seven = ActionChains(browser).move_to_element_with_offset(canvas, -60, -70).click_and_hold()
        for dx, dy in [(30, 0)] * 4 + [(-15, 35)] * 4:  # the bar, then the stroke down
            seven.move_by_offset(dx, dy)
        seven.release().perform()
        summary = wait.until(lambda b: "reads" in b.find_element(By.ID, "summary").text and b)
        assert "padded reads" in summary.find_element(By.ID, "summary").text  # a tiny model
        inside = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#inside img"))
        assert inside.get_attribute("src")  # the memory and the gates, below the slider
        browser.save_screenshot(str(tmp_path / "drawn.png"))
    finally:
        browser.quit()
