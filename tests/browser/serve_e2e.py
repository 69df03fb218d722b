#!/usr/bin/env python3
"""End-to-end test of `babygpt serve` in a real browser (headless Chromium via selenium).

Starts the server on a free port of 127.0.0.1 (with a tiny model trained for the test unless
--checkpoint is given), opens the page, checks the model card and loss.png, types a message,
sends it, watches the reply stream in piece by piece, summarizes the example dialogue, and saves
screenshots at a wide and a narrow (phone) width. Exit status 0 on success; prints
"SKIP: ..." and exits 0 where Chromium, chromedriver or selenium is missing.

    python3 tests/browser/serve_e2e.py [--babygpt build/babygpt] [--checkpoint RUN]
                                       [--out build/serve_e2e.png]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def skip(why):
    print(f"SKIP: serve_e2e: {why}")
    sys.exit(0)


def find(names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def full_page_shot(driver, width, min_height, path):
    """Saves a screenshot of the whole page at this width (the window grows to the page's height)."""
    driver.set_window_size(width, min_height)
    time.sleep(0.2)
    h = driver.execute_script("return document.documentElement.scrollHeight;")
    inner = driver.execute_script("return window.innerHeight;")
    driver.set_window_size(width, max(min_height, h + (min_height - inner)))
    time.sleep(0.3)
    driver.save_screenshot(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--babygpt", default="build/babygpt")
    ap.add_argument("--checkpoint", help="a run folder or checkpoint (default: train a tiny one)")
    ap.add_argument("--out", default="build/serve_e2e.png", help="wide screenshot; -narrow added for the phone one")
    ap.add_argument("--message", default="Hello! How was your weekend?")
    ap.add_argument("--delay-ms", type=int, default=25, help="server --token-delay-ms, to watch the stream")
    a = ap.parse_args()

    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        skip("python3 selenium is not installed (apt-get install python3-selenium)")
    chrome = find(["chromium", "chromium-browser", "google-chrome"])
    driver_bin = find(["chromedriver"]) or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if not chrome or not driver_bin:
        skip("chromium or chromedriver is not installed (apt-get install chromium chromium-driver)")
    if not os.access(a.babygpt, os.X_OK):
        print(f"serve_e2e: {a.babygpt}: no such program (run make first)", file=sys.stderr)
        return 1

    tmp = tempfile.mkdtemp(prefix="nabla_e2e_")
    env = dict(os.environ, NABLA_CACHE=tmp)
    server = driver = None
    try:
        ckpt = a.checkpoint
        if not ckpt:
            ckpt = os.path.join(tmp, "run")
            t = subprocess.run([a.babygpt, "train", "--config", "tiny", "--steps", "4", "--batch", "2",
                                "--bpe-size", "300", "--eval-every", "4", "--eval-batches", "1", "--out", ckpt,
                                "--quiet"], env=env, capture_output=True, text=True, timeout=600)
            if t.returncode != 0:
                print(f"serve_e2e: training the tiny model failed:\n{t.stderr}", file=sys.stderr)
                return 1
        server = subprocess.Popen([a.babygpt, "serve", "--checkpoint", ckpt, "--port", "0", "--quiet",
                                   "--token-delay-ms", str(a.delay_ms)], env=env, stdout=subprocess.PIPE,
                                  text=True)
        line = server.stdout.readline()
        if "http://127.0.0.1:" not in line:
            print(f"serve_e2e: the server did not start: {line!r}", file=sys.stderr)
            return 1
        url = line[line.index("http://"):].split()[0]
        print(f"serve_e2e: server at {url}")

        opts = webdriver.ChromeOptions()
        opts.binary_location = chrome
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--force-device-scale-factor=1", "--no-first-run",
                    "--disable-extensions", "--proxy-server=direct://", "--proxy-bypass-list=*"]:
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
        driver.set_page_load_timeout(30)
        wait = WebDriverWait(driver, 60, poll_frequency=0.05)
        driver.get(url)

        # the model card comes from /api/info, the plot from /loss.png
        wait.until(lambda d: "ok" in d.find_element(By.ID, "status").get_attribute("class"))
        card = driver.find_element(By.ID, "card").text
        assert "Parameters" in card and "Training steps" in card, card
        wait.until(lambda d: d.execute_script(
            "const i = document.getElementById('loss'); return i.hidden || (i.complete && i.naturalWidth > 0);"))
        has_plot = driver.execute_script("return !document.getElementById('loss').hidden;")
        print(f"serve_e2e: model card ok ({card.splitlines()[1] if card else ''}), loss plot: {has_plot}")

        # record every text the reply bubble shows while it streams
        driver.execute_script("""
            window.__seen = [];
            new MutationObserver(() => {
              const b = document.querySelectorAll('#log .msg.bot .bubble');
              if (b.length) { const t = b[b.length - 1].textContent;
                if (window.__seen[window.__seen.length - 1] !== t) window.__seen.push(t); }
            }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
        """)
        box = driver.find_element(By.ID, "msg")
        # A reply is sampled afresh each time; one whose text the server holds back until it is
        # complete (a partial UTF-8 character, the start of a stop string such as "#Person1#")
        # may reach the page in one piece. So streaming must be seen in one of up to three turns.
        streamed, turns = False, 0
        while not streamed and turns < 3:
            turns += 1
            driver.execute_script("window.__seen = [];")
            box.send_keys(a.message)
            driver.find_element(By.ID, "send").click()
            wait.until(lambda d, n=turns: len(d.find_elements(By.CSS_SELECTOR, "#log .msg.bot .meta")) >= n)
            bot = driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot")[-1]
            reply = bot.find_element(By.CSS_SELECTOR, ".bubble").text
            meta = bot.find_element(By.CSS_SELECTOR, ".meta").text
            seen = driver.execute_script("return window.__seen;")
            user = driver.find_elements(By.CSS_SELECTOR, "#log .msg.user .bubble")[-1].text
            assert user == a.message, user
            assert "error" not in bot.get_attribute("class"), reply
            assert "tokens" in meta, meta
            partial = [s for s in seen if s and s != reply]
            print(f"serve_e2e: turn {turns}: reply {reply!r} ({meta}); {len(seen)} states while streaming")
            streamed = len(partial) >= 1 or len(reply) <= 2
        assert streamed, f"no reply streamed in {turns} turns (the last showed {seen})"

        # a second turn, so the conversation shows history
        box.send_keys("That sounds nice. What did you eat?")
        driver.find_element(By.ID, "send").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .msg.bot .meta")) >= turns + 1)

        # summarize the example dialogue
        driver.find_element(By.ID, "example").click()
        driver.find_element(By.ID, "sum-btn").click()
        wait.until(lambda d: d.find_element(By.ID, "summary").text.strip()
                   and d.find_element(By.ID, "sum-btn").is_enabled())
        summary = driver.find_element(By.ID, "summary")
        assert "error" not in summary.get_attribute("class"), summary.text
        print(f"serve_e2e: summary {summary.text!r}")

        logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not logs, f"browser console errors: {logs}"

        out = a.out
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        full_page_shot(driver, 1280, 900, out)
        narrow = os.path.splitext(out)[0] + "-narrow.png"
        driver.set_window_size(390, 844)
        time.sleep(0.3)
        overflow = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth;")
        assert not overflow, "the page is wider than a phone screen"
        full_page_shot(driver, 390, 844, narrow)
        print(f"serve_e2e: screenshots {out}, {narrow}")
        print("serve_e2e: PASS")
        return 0
    except AssertionError as e:
        print(f"serve_e2e: FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        if driver:
            driver.quit()
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                rc = server.wait(timeout=20)
                if rc != 0:
                    print(f"serve_e2e: the server exited with {rc}", file=sys.stderr)
            except subprocess.TimeoutExpired:
                server.kill()
                print("serve_e2e: the server did not stop on SIGTERM", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
