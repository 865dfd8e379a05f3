"""Headless Chromium against the dashboard of a running `ferry serve`.

Creates traffic through the native API, loads the overview, a queue page, a dead-letter queue
page and a stream page, checks that the numbers the pages show are the server's (queue depths,
stream end offsets, consumer-group lag in records and time), redrives the dead-letter queue
with the button, and saves screenshots. Prints one line per check and a closing
"N passed, N failed"; exits non-zero on any failure.

Usage: dashboard_test.py BASE_URL SCREENSHOT_DIR
"""

import datetime
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


# The stream: 3 partitions holding 7, 5 and 4 records, written an hour ago (producer
# timestamps); group "reporting" commits 4, 5 and 1, so it lags 3, 0 and 3 records.
STREAM_ENDS = [7, 5, 4]
STREAM_COMMITS = [4, 5, 1]


def stream_append(partitions):
    """Appends partitions' records (one request), timestamped an hour ago."""
    hour_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    stamp = hour_ago.strftime("%Y-%m-%dT%H:%M:%S.") + f"{hour_ago.microsecond // 1000:03d}Z"
    records = [{"value": f"click {p}-{i}", "partition": p, "timestamp": stamp}
               for p in partitions for i in range(STREAM_ENDS[p])]
    call("POST", "/v1/streams/clicks/records", {"records": records})


def stream_traffic():
    """Partition 2's records come a while after the others' (so the history has an append
    rate), then the group reads everything and commits behind the end."""
    stream_append([2])
    member = call("POST", "/v1/streams/clicks/groups/reporting/join",
                  {"auto_offset_reset": "earliest", "session_timeout_ms": 600000})
    polled = call("POST", "/v1/streams/clicks/groups/reporting/poll",
                  {"member_id": member["member_id"], "generation": member["generation"], "max_records": 100})
    check("the group member polled every record", len(polled["records"]) == sum(STREAM_ENDS),
          len(polled["records"]))
    call("POST", "/v1/streams/clicks/groups/reporting/commit",
         {"member_id": member["member_id"], "generation": member["generation"],
          "offsets": [{"partition": p, "offset": o, "metadata": "nightly report"}
                      for p, o in enumerate(STREAM_COMMITS)]})


def traffic():
    call("PUT", "/v1/queues/orders-dlq", {})
    call("PUT", "/v1/queues/orders", {"max_receives": 1, "dead_letter_queue": "orders-dlq",
                                      "visibility_timeout_ms": 600000})
    call("PUT", "/v1/queues/emails.fifo", {"fifo": True})
    call("PUT", "/v1/streams/clicks", {"partitions": 3})
    stream_append([0, 1])
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
    stream_traffic()
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

        srow = 'tr[data-stream="clicks"]'
        lag = sum(e - c for e, c in zip(STREAM_ENDS, STREAM_COMMITS))
        check("overview lists the stream", text(driver, "#stream-count") == "1", text(driver, "#stream-count"))
        check("overview shows the stream's partitions", text(driver, f"{srow} td.partitions") == "3",
              text(driver, f"{srow} td.partitions"))
        check("overview shows the sum of end offsets", text(driver, f"{srow} td.end-offsets") == str(sum(STREAM_ENDS)),
              text(driver, f"{srow} td.end-offsets"))
        check("overview shows the stream's groups", text(driver, f"{srow} td.groups") == "1",
              text(driver, f"{srow} td.groups"))
        check("overview shows the stream's total lag", text(driver, f"{srow} td.lag") == str(lag),
              text(driver, f"{srow} td.lag"))
        check("overview shows stored bytes", (text(driver, f"{srow} td.bytes") or "").endswith("B"),
              text(driver, f"{srow} td.bytes"))
        rates = next(s for s in call("GET", "/v1/metrics/history")["streams"] if s["name"] == "clicks")["appended_per_s"]
        check("the history has the stream's append rate", max(r or 0 for r in rates) > 0, rates)
        driver.execute_script("document.querySelector('#streams').scrollIntoView();")
        shot(driver, "overview-streams.png")

        load(driver, "/streams/clicks")
        for p, end in enumerate(STREAM_ENDS):
            row = f'#partitions tr[data-partition="{p}"]'
            check(f"stream page shows partition {p}'s offsets",
                  (text(driver, f"{row} td.start-offset"), text(driver, f"{row} td.end-offset")) == ("0", str(end)),
                  (text(driver, f"{row} td.start-offset"), text(driver, f"{row} td.end-offset")))
            check(f"stream page shows partition {p}'s segments", text(driver, f"{row} td.segments") == "1",
                  text(driver, f"{row} td.segments"))
        check("stream page shows the sum of end offsets", text(driver, ".stat.end-offsets .value") == str(sum(STREAM_ENDS)),
              text(driver, ".stat.end-offsets .value"))
        check("stream page shows the total lag", text(driver, ".stat.lag .value") == str(lag),
              text(driver, ".stat.lag .value"))
        group = '.group[data-group="reporting"]'
        for p, (end, committed) in enumerate(zip(STREAM_ENDS, STREAM_COMMITS)):
            row = f'{group} tr[data-partition="{p}"]'
            got = (text(driver, f"{row} td.committed"), text(driver, f"{row} td.lag-records"),
                   text(driver, f"{row} td.lag-time"))
            want = (str(committed), str(end - committed), "1.0 h" if end > committed else "0")
            check(f"stream page shows the group's commit and lag on partition {p}", got == want, (got, want))
        check("stream page shows the group's lag", text(driver, f"{group} .group-lag") == str(lag),
              text(driver, f"{group} .group-lag"))
        check("stream page shows the oldest unconsumed record's age",
              text(driver, f"{group} .group-lag-time") == "1.0 h", text(driver, f"{group} .group-lag-time"))
        shot(driver, "stream.png")
        metrics = call("GET", "/metrics")
        for p, (end, committed) in enumerate(zip(STREAM_ENDS, STREAM_COMMITS)):
            for series in [f'ferry_stream_partition_end_offset{{stream="clicks",partition="{p}"}} {end}',
                           f'ferry_stream_group_lag_records{{stream="clicks",group="reporting",partition="{p}"}} {end - committed}']:
                check(f"/metrics has {series}", series in metrics.splitlines(),
                      [l for l in metrics.splitlines() if l.startswith(series.split("{")[0])])

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
