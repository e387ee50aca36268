"""The one way browser tests launch a browser: Debian's chromium through Playwright (never a downloaded build),
with the flags this workplace needs. Screenshots go under test-artifacts/screenshots/, which CI keeps."""

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """A missing /usr/bin/chromium fails the test (CI installs it): a browser test is never skipped."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
