#!/usr/bin/env python3
"""Renders the built book in headless Chromium and checks what a reader sees:
highlighted code blocks, <details> answers, a working search, pages without
JavaScript errors, code blocks that are not cut off, figures that load and
fit a phone, and answers open in print. Saves screenshots of every page.

Usage: python3 .ci/browser-check.py target/book target/book-screenshot.png

Besides the one screenshot named on the command line (a chapter at 1280 px),
every page is shot at 1280 px and at 420 px wide into book-screenshots/ next
to it: target/book-screenshots/<page>-1280.png and <page>-420.png (the top
1800 px of the page; BOOK_SCREENSHOTS=full shoots whole pages, which is slower
and takes far more room). The print of one chapter is saved there as
<page>-print.pdf.

Chromium is started once and driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ending in a NUL byte, written to its
file descriptor 3 and read from its 4), with the standard library only.
"""

import base64
import fcntl
import functools
import http.server
import json
import os
import pathlib
import select
import subprocess
import sys
import tempfile
import threading
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
]

# The widths a reader uses: a laptop (the sidebar open, a text column of
# about 88 monospace columns) and a phone.
WIDE, PHONE = 1280, 420
HEIGHT = 1800

# The chapter whose code, answers and print are looked at closely.
CHAPTER = "concurrency.html"
# The chapter of the screenshot named on the command line.
SHOWCASE = "virtual-memory.html"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root):
    handler = functools.partial(QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class BrowserDied(Exception):
    pass


class Browser:
    """One headless Chromium with one tab, driven over the DevTools pipe."""

    def __init__(self, profile):
        # Chromium reads commands from its descriptor 3 and writes replies
        # to 4; a shell moves the pipes' ends there (no preexec_fn: this
        # script has threads, the web server's). Chromium's ends are first
        # copied to 10 and above, so neither move undoes the other; bash,
        # because dash takes only descriptors 0-9.
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        move = f'exec "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'
        # Chromium's own messages, kept to explain a crash.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            ["bash", "-c", move, "bash", CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            pass_fds=(child_r, child_w),
        )
        os.close(child_r)
        os.close(child_w)
        self.out = to_chrome_w
        self.inp = from_chrome_r
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False, timeout=60)
            attached = self.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False
            )
            self.session = attached["sessionId"]
            for domain in ("Page", "Runtime"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.process.kill()
            self.close()
            raise

    def stderr_tail(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-1500:]

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except (BrowserDied, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.out, self.inp):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()

    def _read(self, deadline):
        """The next message from Chromium, or None at the deadline."""
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.inp], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise BrowserDied(f"chromium exited ({self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        try:
            os.write(self.out, json.dumps(message).encode() + b"\0")
        except BrokenPipeError as error:
            raise BrowserDied(f"chromium is gone ({error})") from error
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise BrowserDied(f"no answer to {method} in {timeout} s")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            event = self._read(deadline)
            if event is None:
                raise BrowserDied(f"no {method} in {timeout} s")
            if "method" in event:
                self.events.append(event)

    def evaluate(self, expression, timeout=30):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url, width, height=HEIGHT):
        """Loads a page at a width; returns the JavaScript errors it raised."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", timeout=60)
        # Fonts and images in, then one frame drawn.
        self.evaluate(SETTLED)
        errors = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                # mdBook asks play.rust-lang.org which crates its playground
                # has; a machine without a network cannot reach it.
                if "fetch_with_timeout" in text:
                    continue
                where = f" ({details.get('url', '?')}:{details.get('lineNumber', 0) + 1})"
                errors.append(text.splitlines()[0] + where)
        return errors

    def screenshot(self, path, full):
        params = {"format": "png"}
        if full:
            width, height = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        pathlib.Path(path).write_bytes(base64.b64decode(data))


SETTLED = """
Promise.all([
    document.fonts.ready,
    ...Array.from(document.images).map(img => img.complete ? null :
        new Promise(done => { img.onload = img.onerror = done; })),
]).then(() => new Promise(done => requestAnimationFrame(() => done(true))))
"""

# Every code block wider than its box (the <pre>, or the highlighted <code>
# in it, which scrolls), and every image: loaded, and inside the text column.
LAYOUT = """
(() => {
    const content = document.querySelector('main') || document.body;
    const clipped = [];
    for (const pre of content.querySelectorAll('pre')) {
        const boxes = [pre, ...pre.querySelectorAll(':scope > code')];
        const over = Math.max(...boxes.map(b => b.scrollWidth - b.clientWidth));
        if (over > 1) {
            const code = pre.querySelector('code') || pre;
            const lines = code.innerText.split('\\n');
            const first = (lines.find(l => l.trim()) || '').trim();
            const columns = Math.max(...lines.map(l => [...l].length));
            clipped.push({first: first.slice(0, 60), over, columns});
        }
    }
    const column = content.getBoundingClientRect();
    const images = [];
    for (const img of content.querySelectorAll('img')) {
        // mdBook's zoomed copy of a figure, shown only when clicked.
        if (img.closest('.img-wrapper')) continue;
        const box = img.getBoundingClientRect();
        images.push({
            src: img.getAttribute('src'),
            loaded: img.complete && img.naturalWidth > 0,
            fits: box.left >= column.left - 1 && box.right <= column.right + 1
                && box.right <= document.documentElement.clientWidth + 1,
            width: Math.round(box.width),
        });
    }
    return {clipped, images};
})()
"""


def book_pages(book):
    """Every page of the book, by file name (index.html is the introduction
    again, print.html all pages at once, toc.html the sidebar's fallback)."""
    skip = {"index.html", "print.html", "toc.html", "404.html"}
    return sorted(p.name for p in pathlib.Path(book).glob("*.html") if p.name not in skip)


class Run:
    """The checks, and a browser that is restarted if it crashes (seen once
    as a SIGSEGV at start-up on a busy CI machine)."""

    def __init__(self, profile):
        self.profile = profile
        self.browser = None

    def __call__(self, step, *args):
        for attempt in range(1, 4):
            try:
                if self.browser is None:
                    self.browser = Browser(self.profile)
                return step(self.browser, *args)
            except BrowserDied as error:
                print(f"chromium failed ({error}); attempt {attempt} of 3", file=sys.stderr)
                if self.browser is not None:
                    self.browser.process.kill()
                    print(self.browser.stderr_tail(), file=sys.stderr)
                    self.browser.close()
                self.browser = None
        sys.exit("chromium failed three times in a row")

    def close(self):
        if self.browser is not None:
            self.browser.close()


def check_chapter(browser, base, problems):
    """An exercise chapter: code highlighted by highlight.js, answers folded."""
    url = f"{base}/{CHAPTER}"
    browser.open(url, WIDE)
    found = browser.evaluate(
        """({
            highlighted: document.querySelectorAll('code.language-rust.hljs').length,
            details: document.querySelectorAll('details').length,
            open: document.querySelectorAll('details[open]').length,
            summaries: document.querySelectorAll('details > summary').length,
            unexpanded: document.body.innerHTML.includes('{{#include'),
        })"""
    )
    if found["highlighted"] < 5:
        problems.append(
            f"{CHAPTER}: {found['highlighted']} highlighted Rust blocks (highlight.js did not run?)"
        )
    details = found["details"]
    if details < 3 or found["summaries"] < details:
        problems.append(f"{CHAPTER}: {details} <details> with {found['summaries']} <summary>")
    if found["open"]:
        problems.append(f"{CHAPTER}: {found['open']} answers are open before anyone asked")
    if found["unexpanded"]:
        problems.append(f"{CHAPTER}: an {{{{#include}}}} was not expanded")
    return details


def check_print(browser, base, out_dir, problems):
    """Answers in print: the print page has every <details> open, and
    printing a chapter opens them all for the print and closes them after."""
    browser.open(f"{base}/print.html", WIDE)
    total, closed = browser.evaluate(
        "[document.querySelectorAll('details').length,"
        " document.querySelectorAll('details:not([open])').length]"
    )
    if total == 0:
        problems.append("print.html: no <details> at all (is the book built?)")
    elif closed:
        problems.append(f"print.html: {closed} of {total} answers are folded (answers.js did not run?)")

    # A listener added after answers.js's runs after it: it sees what prints.
    browser.open(f"{base}/{CHAPTER}", WIDE)
    browser.evaluate(
        """window.__print = {};
        addEventListener('beforeprint', () => { window.__print.folded =
            document.querySelectorAll('details:not([open])').length; });
        addEventListener('afterprint', () => { window.__print.after =
            document.querySelectorAll('details[open]').length; });
        true"""
    )
    pdf = browser.call("Page.printToPDF", {"printBackground": False}, timeout=120)["data"]
    (out_dir / f"{CHAPTER[:-5]}-print.pdf").write_bytes(base64.b64decode(pdf))
    seen = browser.evaluate("window.__print")
    if "folded" not in seen:
        problems.append(f"{CHAPTER}: printing it fired no beforeprint event")
    elif seen["folded"]:
        problems.append(f"{CHAPTER}: {seen['folded']} answers were folded in print")
    if seen.get("after"):
        problems.append(f"{CHAPTER}: {seen['after']} answers stayed open after printing")
    return total


def check_search(browser, base, problems):
    """Search: the ?search= parameter opens the search bar with results."""
    browser.open(f"{base}/index.html?search=mutex", WIDE)
    hits = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        hits = browser.evaluate(
            "Array.from(document.querySelectorAll("
            "'#mdbook-searchresults li a, #searchresults li a')).map(a => a.getAttribute('href'))"
        )
        if hits:
            break
        time.sleep(0.2)
    if not hits:
        problems.append("search for 'mutex' found nothing (searchindex not loaded?)")
    elif not any(h.startswith("concurrency.html") for h in hits):
        problems.append("search for 'mutex' does not list the concurrency chapter")
    return len(hits)


def check_page(browser, base, page, width, shots, full, problems):
    errors = browser.open(f"{base}/{page}", width)
    for error in errors:
        problems.append(f"{page} at {width} px: JavaScript error: {error}")
    layout = browser.evaluate(LAYOUT)
    for img in layout["images"]:
        if not img["loaded"]:
            problems.append(f"{page}: image {img['src']} did not load")
        elif not img["fits"]:
            problems.append(
                f"{page} at {width} px: image {img['src']} ({img['width']} px) "
                "sticks out of the text column"
            )
    # At 1280 px no code block may be cut off. At 420 px they may scroll: a
    # phone shows about 45 columns, so any real code scrolls sideways there,
    # as code does in every phone browser; figures still must fit.
    if width == WIDE:
        for block in layout["clipped"]:
            problems.append(
                f"{page}: code block cut off at {width} px ({block['columns']} columns, "
                f"{block['over']} px hidden), starting `{block['first']}`"
            )
    browser.screenshot(shots / f"{page[:-5]}-{width}.png", full)


def main():
    started = time.monotonic()
    book, screenshot = sys.argv[1], pathlib.Path(sys.argv[2])
    shots = screenshot.parent / "book-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    full = os.environ.get("BOOK_SCREENSHOTS") == "full"
    server = serve(book)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems = []
    pages = book_pages(book)
    with tempfile.TemporaryDirectory() as profile:
        run = Run(profile)
        try:
            details = run(check_chapter, base, problems)
            hits = run(check_search, base, problems)
            printed = run(check_print, base, shots, problems)
            for page in pages:
                for width in (WIDE, PHONE):
                    run(check_page, base, page, width, shots, full, problems)

            def showcase(browser):
                browser.open(f"{base}/{SHOWCASE}", WIDE)
                browser.screenshot(screenshot, False)

            run(showcase)
        finally:
            run.close()
    server.shutdown()
    seconds = time.monotonic() - started
    if problems:
        sys.exit(
            f"the rendered book has {len(problems)} problem(s) ({len(pages)} pages checked in"
            f" {seconds:.0f} s; screenshots in {shots}/):\n  " + "\n  ".join(problems)
        )
    print(
        f"browser: code highlighted, {details} <details>, search finds {hits}"
        f" result(s), {printed} answers open in print; {len(pages)} pages at {WIDE} and {PHONE} px:"
        f" no code block cut off, every figure loaded and fits; screenshots {screenshot} and"
        f" {shots}/ ({seconds:.0f} s)"
    )


if __name__ == "__main__":
    main()
