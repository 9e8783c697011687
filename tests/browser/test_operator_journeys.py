"""What an operator does on the admin pages, in a real Chromium: sign in, find an order, replay one
after fixing the mapping, follow a reconciliation finding, watch the health strip follow JDE."""
from __future__ import annotations

import random
import subprocess
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from sandbox.woo_orders import order_document, shoppers
from tests.browser.conftest import ADMIN_PASSWORD, ADMIN_USER, ROOT, screenshot
from tests.support import query, wait_for

PAGE_DEADLINE = 60      # seconds a page may take to show what the product did


def _sign_in(driver, live):
    driver.get(f"{live.admin}/")
    assert "/admin/login" in driver.current_url           # the pages are behind the login
    driver.find_element(By.NAME, "username").send_keys(ADMIN_USER)
    driver.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    _follow(driver, driver.find_element(By.CSS_SELECTOR, "form button"))
    WebDriverWait(driver, 20).until(lambda d: "/admin/login" not in d.current_url, message="signed in")


def _follow(driver, element):
    """Click a link or a form's button and wait for the page it leads to: a click returns before the
    browser has left the old page, whose elements would otherwise be read as the new one's."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, PAGE_DEADLINE).until(staleness_of(old), message="the next page to load")


def _orders(rng, first_id: int, count: int, **changes) -> list[dict]:
    people = shoppers(rng, count, guests=0)
    return [order_document(rng, first_id + n, people[n]) | changes for n in range(count)]


def _wait_states(live, woo_ids, state: str):
    def reached():
        rows = query(live.env["DATABASE_URL"], "SELECT woo_id, state FROM orders WHERE woo_id = ANY(%s)",
                     list(woo_ids))
        return len(rows) == len(woo_ids) and all(r["state"] == state for r in rows)

    wait_for(reached, timeout=PAGE_DEADLINE, what=f"orders {woo_ids} to be {state}")


def _text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text.strip()


def _refresh_until(driver, condition, what: str):
    """Reload the page until `condition(driver)` holds: the pages have no script to update themselves."""
    def reloaded(d):
        d.refresh()
        return condition(d)

    WebDriverWait(driver, PAGE_DEADLINE, poll_frequency=0.5).until(reloaded, message=what)


def test_operator_finds_an_order_by_email_and_opens_it(live, chrome):
    documents = _orders(random.Random(3), 51_000, 3)
    live.send_orders(documents)
    _wait_states(live, [d["id"] for d in documents], "posted")
    wanted = documents[1]
    email = wanted["billing"]["email"]

    _sign_in(chrome, live)
    screenshot(chrome, "dashboard")
    _follow(chrome, chrome.find_element(By.ID, "nav-orders"))
    search = chrome.find_element(By.CSS_SELECTOR, "#order-search input[name=q]")
    search.send_keys(email)
    _follow(chrome, chrome.find_element(By.ID, "search"))
    rows = chrome.find_elements(By.CSS_SELECTOR, "#orders tr.order")
    assert len(rows) == 1 and email in rows[0].text
    _follow(chrome, rows[0].find_element(By.CSS_SELECTOR, "a.order-link"))
    assert chrome.current_url.endswith(f"/admin/orders/{wanted['id']}")
    assert _text_of(chrome, "order-state") == "posted"
    assert f"WC-{wanted['id']}" in chrome.page_source                 # its batch and entry are shown
    screenshot(chrome, "order")


def test_operator_replays_a_needs_attention_order_after_fixing_its_mapping(live, chrome, mapping_path):
    # A shipping account JDE does not have: JDE refuses the entry, the order needs a person.
    text = mapping_path.read_text()
    mapping_path.write_text(text.replace('shipping = "4050"', 'shipping = "4059"'))
    rng = random.Random(5)
    document = next(d for d in (_orders(rng, 52_000 + 10 * n, 1)[0] for n in range(50))
                    if float(d["shipping_total"]) > 0)
    live.send_orders([document])
    _wait_states(live, [document["id"]], "needs_attention")

    _sign_in(chrome, live)
    chrome.get(f"{live.admin}/orders/{document['id']}")
    assert _text_of(chrome, "order-state") == "needs_attention"
    assert "4059" in chrome.page_source                                # JDE's own words name the account
    mapping_path.write_text(text)                                      # the fix: the right account again
    _follow(chrome, chrome.find_element(By.ID, "replay"))
    _follow(chrome, chrome.find_element(By.ID, "confirm"))
    assert chrome.find_elements(By.ID, "notice")
    _refresh_until(chrome, lambda d: _text_of(d, "order-state") == "posted", "the replayed order to be posted")
    rows = query(live.env["DATABASE_URL"], "SELECT actor, action, outcome FROM audit_log WHERE subject_type = "
                                           "'order' AND subject_id = %s AND actor IS NOT NULL", str(document["id"]))
    assert [(r["actor"], r["outcome"]) for r in rows] == [(f"web:{ADMIN_USER}", "ready")], rows


def test_operator_follows_a_reconciliation_finding_to_its_order(live, chrome, jde):
    documents = _orders(random.Random(7), 53_000, 2)
    live.send_orders(documents)
    _wait_states(live, [d["id"] for d in documents], "posted")
    lost = documents[0]["id"]
    assert jde.service.delete_batch(f"WC-{lost}") > 0                  # someone deleted it in JDE
    reconciled = subprocess.run([sys.executable, "-m", "connector.cli", "reconcile", "--from", "2026-11-01",
                                 "--to", "2026-12-31", "--format", "json"], env=live.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
    assert reconciled.returncode == 1, reconciled.stdout + reconciled.stderr   # 1: discrepancies found

    _sign_in(chrome, live)
    _follow(chrome, chrome.find_element(By.ID, "nav-reconciliation"))
    _follow(chrome, chrome.find_element(By.CSS_SELECTOR, "#runs a.run-link"))
    findings = chrome.find_elements(By.CSS_SELECTOR, "#findings tr.finding")
    assert len(findings) == 1 and "missing_in_jde" in findings[0].text
    _follow(chrome, findings[0].find_element(By.CSS_SELECTOR, "a.order-link"))
    assert chrome.current_url.endswith(f"/admin/orders/{lost}")
    assert _text_of(chrome, "order-state") == "posted"                # posted here, missing there


def test_health_strip_turns_red_when_jde_stops_and_green_when_it_is_back(live, chrome, jde):
    documents = _orders(random.Random(9), 54_000, 1)
    live.send_orders(documents)
    _wait_states(live, [documents[0]["id"]], "posted")
    _sign_in(chrome, live)

    def jde_is(state):
        return lambda d: state in d.find_element(By.ID, "health-jde").get_attribute("class").split()

    _refresh_until(chrome, jde_is("ok"), "JDE green after a posting")
    jde.stop()
    try:
        _refresh_until(chrome, jde_is("bad"), "JDE red while the AIS server is stopped")
        screenshot(chrome, "dashboard-jde-down")
    finally:
        jde.start()
    _refresh_until(chrome, jde_is("ok"), "JDE green again once it answers")
