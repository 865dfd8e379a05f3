"""Headless Chromium against the dashboard of a running `ferry serve`.

Creates traffic through the native API, loads the overview, a queue page and a dead-letter
queue page, checks that the numbers the pages show are the server's, redrives the dead-letter
queue with the button, and saves screenshots. Prints one line per check and a closing
"N passed, N failed"; exits non-zero on any failure.

Usage: dashboard_test.py BASE_URL SCREENSHOT_DIR
"""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

BASE, SHOTS = sys.argv[1].rstrip("/"), sys.argv[2]
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}", flush=True)


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
        return json.loads(text) if text and text.lstrip()[:1] in "{[" else text


def stats(queue):
    return call("GET", f"/v1/queues/{queue}")["stats"]


def traffic():
    call("PUT", "/v1/queues/orders-dlq", {})
    call("PUT", "/v1/queues/orders", {"max_receives": 1, "dead_letter_queue": "orders-dlq",
                                      "visibility_timeout_ms": 600000})
    call("PUT", "/v1/queues/emails.fifo", {"fifo": True})
    call("POST", "/v1/queues/orders/messages",
         {"messages": [{"body": f"order {i}", "attributes": {"n": str(i)}} for i in range(20)]})
    call("POST", "/v1/queues/emails.fifo/messages",
         {"messages": [{"body": f"mail {i}", "group": f"user-{i % 2}"} for i in range(6)]})
    got = call("POST", "/v1/queues/orders/receive", {"max": 5, "consumer": "worker-7"})["messages"]
    call("POST", "/v1/queues/orders/ack", {"receipts": [m["receipt"] for m in got[:3]]})
    call("POST", "/v1/queues/orders/nack",
         {"receipts": [m["receipt"] for m in got[3:]], "reason": "payment service down"})
    call("POST", "/v1/queues/orders/receive", {"max": 2, "consumer": "worker-7"})
    call("POST", "/v1/queues/emails.fifo/receive", {"max": 1, "consumer": "mailer"})
    deadline = time.time() + 10
    while stats("orders-dlq")["visible"] < 2 and time.time() < deadline:
        time.sleep(0.1)
    # A second round a little later, so the sampled history has rates and latencies.
    time.sleep(1.5)
    call("POST", "/v1/queues/orders/messages", {"messages": [{"body": "late order"}]})
    late = call("POST", "/v1/queues/orders/receive", {"max": 1, "consumer": "worker-8"})["messages"]
    call("POST", "/v1/queues/orders/ack", {"receipts": [m["receipt"] for m in late]})
    time.sleep(2.5)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1100", f"--user-data-dir={tempfile.mkdtemp(prefix='ferry-chromium-')}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def load(driver, fragment):
    driver.get(f"{BASE}/#{fragment}")
    driver.refresh()
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.body.dataset.loaded === 'true'"))


# The page re-renders every 2 s, so elements are read in one script call, never held.
def text(driver, css):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", css)


def texts(driver, css):
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim());", css)


def shot(driver, name):
    path = os.path.join(SHOTS, name)
    driver.save_screenshot(path)
    print(f"     screenshot {path}")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    traffic()
    orders = stats("orders")
    driver = browser()
    try:
        load(driver, "/")
        row = 'tr[data-queue="orders"]'
        check("overview lists every queue", text(driver, "#queue-count") == "3", text(driver, "#queue-count"))
        check("overview shows orders' visible count", text(driver, f"{row} td.visible") == str(orders["visible"]),
              (text(driver, f"{row} td.visible"), orders["visible"]))
        check("overview shows orders' in-flight count", text(driver, f"{row} td.in-flight") == "2",
              text(driver, f"{row} td.in-flight"))
        check("overview shows orders' enqueued total", text(driver, f"{row} td.enqueued-total") == "21",
              text(driver, f"{row} td.enqueued-total"))
        check("overview shows dead letters", text(driver, f"{row} td.dead-lettered") == "2",
              text(driver, f"{row} td.dead-lettered"))
        paths = driver.execute_script(
            "return [...document.querySelectorAll('svg.chart path')].filter(p => p.getAttribute('d').includes('L')).length")
        check("charts draw lines from the sampled history", paths >= 3, paths)
        shot(driver, "overview.png")

        load(driver, "/queues/orders")
        check("queue page shows in-flight", text(driver, ".stat.in-flight .value") == "2",
              text(driver, ".stat.in-flight .value"))
        check("queue page shows acked", text(driver, ".stat.acked .value") == "4", text(driver, ".stat.acked .value"))
        holders = [t for t in texts(driver, "#messages td.lease") if t]
        check("peek shows lease holder and age", len(holders) == 2 and all(h.startswith("worker-7, ") for h in holders),
              holders)
        rows = len(texts(driver, "#messages tbody tr"))
        check("peek lists the stored messages", rows == orders["visible"] + orders["in_flight"],
              (rows, orders))
        shot(driver, "queue.png")

        load(driver, "/queues/emails.fifo")
        check("fifo queue page shows its messages", text(driver, ".stat.visible .value") == "5",
              text(driver, ".stat.visible .value"))

        load(driver, "/queues/orders-dlq")
        reasons = [t for t in texts(driver, "#messages td") if "payment service down" in t]
        check("dead-letter page shows source and reasons", len(reasons) == 2, reasons)
        shot(driver, "dlq-before.png")
        has_button = text(driver, "#redrive") is not None
        check("dead-letter page has a redrive button", has_button)
        if has_button:
            driver.execute_script("document.querySelector('#redrive').click();")
            WebDriverWait(driver, 15).until(
                lambda d: "Moved" in (text(d, "#redrive-result") or ""))
            check("redrive reports what moved", text(driver, "#redrive-result") == "Moved 2 messages back.",
                  text(driver, "#redrive-result"))
            check("redrive emptied the dead-letter queue", stats("orders-dlq")["visible"] == 0)
            check("redrive refilled the source queue", stats("orders")["visible"] == orders["visible"] + 2,
                  stats("orders"))
            WebDriverWait(driver, 15).until(lambda d: text(d, ".stat.visible .value") == "0")
            check("dead-letter page shows it empty", text(driver, ".stat.visible .value") == "0")
            shot(driver, "dlq-after.png")
        metrics = call("GET", "/metrics")
        check("/metrics counts the redriven messages",
              'ferry_queue_enqueued_total{queue="orders"} 23' in metrics,
              [l for l in metrics.splitlines() if l.startswith("ferry_queue_enqueued_total")])
    finally:
        driver.quit()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
