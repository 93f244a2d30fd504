#!/usr/bin/env python3
"""Renders the built book in headless Chromium and checks what a reader sees:
highlighted code blocks, <details> answers, a working search, and a page
without JavaScript errors. Saves a screenshot of one chapter.

Usage: python3 .ci/browser-check.py target/book target/book-screenshot.png
"""

import functools
import http.server
import re
import subprocess
import sys
import tempfile
import threading

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
    "--virtual-time-budget=8000",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root):
    handler = functools.partial(QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium(profile, *args):
    # Headless Chromium occasionally crashes at start-up on a busy machine
    # (seen once as SIGSEGV in CI); a crash is retried, and said so.
    for attempt in range(1, 4):
        result = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode == 0:
            return result.stdout
        print(f"chromium attempt {attempt} failed ({result.returncode}); retrying", file=sys.stderr)
    sys.exit(f"chromium failed ({result.returncode}) three times: {result.stderr[-2000:]}")


def main():
    book, screenshot = sys.argv[1], sys.argv[2]
    server = serve(book)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems = []
    with tempfile.TemporaryDirectory() as profile:
        # An exercise chapter: code highlighted by highlight.js, answers folded.
        dom = chromium(profile, "--dump-dom", f"{base}/concurrency.html")
        highlighted = len(re.findall(r'<code class="[^"]*language-rust[^"]*hljs', dom))
        if highlighted < 5:
            problems.append(f"concurrency.html: {highlighted} highlighted Rust blocks (highlight.js did not run?)")
        details = len(re.findall(r"<details", dom))
        summaries = len(re.findall(r"<summary", dom))
        if details < 3 or summaries < details:
            problems.append(f"concurrency.html: {details} <details> with {summaries} <summary>")
        if "{{#include" in dom:
            problems.append("concurrency.html: an {{#include}} was not expanded")

        # Search: the ?search= parameter opens the search bar with results.
        dom = chromium(profile, "--dump-dom", f"{base}/index.html?search=mutex")
        results = re.search(r'<ul id="(?:mdbook-)?searchresults">(.*?)</ul>', dom, re.S)
        hits = re.findall(r"<li", results.group(1)) if results else []
        if not hits:
            problems.append("search for 'mutex' found nothing (searchindex not loaded?)")
        elif "concurrency.html" not in results.group(1):
            problems.append("search for 'mutex' does not list the concurrency chapter")

        chromium(profile, f"--screenshot={screenshot}", "--window-size=1280,1800", f"{base}/virtual-memory.html")
    server.shutdown()
    if problems:
        sys.exit("the rendered book has problems:\n  " + "\n  ".join(problems))
    print(f"browser: code highlighted, {details} <details>, search finds {len(hits)} result(s); screenshot {screenshot}")


if __name__ == "__main__":
    main()
