"""The admin pages in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
selenium) against the whole product: web server, Celery worker and beat, and a sandbox JDE that the
tests can stop and start again on the same port."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.ais import AisSandbox
from tests.e2e.conftest import AIS_PASSWORD, Stack, TEST_SECRET_KEY
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ADMIN_USER, ADMIN_PASSWORD = "finance", "correct horse battery"
# As the machine's own check starts it: without the background-networking switches Chromium
# tries Google's hosts at every start, and this machine's closed network refuses them.
CHROMIUM_SWITCHES = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,1400")


@pytest.fixture
def chrome(tmp_path):
    """A headless Chromium with an empty profile, closed after the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: the browser tests need Debian's chromium and "
                    "chromium-driver (`apt-get install chromium chromium-driver`; .ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for switch in CHROMIUM_SWITCHES:
        options.add_argument(switch)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # The driver named explicitly: selenium's own manager would try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER,
                                                              log_output=str(tmp_path / "chromedriver.log")))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def jde():
    """A sandbox JDE on a port of its own, so that it can be stopped and started again there."""
    with AisSandbox(seed=7, password=AIS_PASSWORD, port=free_port()) as server:
        yield server


@pytest.fixture
def live(clean_db, jde, mapping_path, tmp_path, redis_url):
    """The product running against `jde`, with an admin login stored; `live.admin` is its base URL."""
    import os

    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = dict(os.environ, AIS_BASE_URL=jde.url, AIS_USERNAME="JDE", AIS_PASSWORD=AIS_PASSWORD,
               AIS_ENVIRONMENT="JDV920", AIS_ROLE="*ALL", AIS_DEVICE_NAME="connector-browser",
               CONNECTOR_SECRET_KEY=TEST_SECRET_KEY, CONNECTOR_VAR_DIR=str(tmp_path / "var"),
               CONNECTOR_CONFIG=str(mapping_path), CONNECTOR_LEASE_SECONDS="5", CONNECTOR_SWEEP_SECONDS="2",
               CONNECTOR_PROBE_SECONDS="2", CONNECTOR_RETRY_BASE_SECONDS="0.2",
               CONNECTOR_HEALTH_CACHE_SECONDS="1")
    stored = subprocess.run([sys.executable, "-m", "connector.cli", "credentials", "set", "admin", "--username",
                             ADMIN_USER], input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n", env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert stored.returncode == 0, stored.stdout + stored.stderr
    stack = Stack(env, tmp_path)
    stack.admin = f"http://127.0.0.1:{stack.port}/admin"
    try:
        yield stack.start(workers=1, concurrency=2, beat=True)
    finally:
        stack.stop()


def screenshot(driver, name: str) -> Path:
    """Save the whole page as var/screenshots/<name>.png (the README shows copies of them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Through the DevTools protocol: the whole page, not only what fits in the window.
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000, f"screenshot {path} is blank"
    return path
