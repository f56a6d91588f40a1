"""End to end on a real X server: the real `reviewer` process under Xvfb with a window
manager (openbox) and X auto-repeat on, driven only by real key events (xdotool):
create the key vault in its dialog, create the first account, grade three items, lock,
unlock, quit with Ctrl+Q; exit code 0 and no fatal error. Then the database holds the
three decisions and the lock and unlock.

Needs Xvfb, xdotool and openbox (scripts/test installs them when run as root); skipped
with a message otherwise. With env REVIEWER_SCREENSHOTS=DIR it also saves the
screenshots for docs/screenshots (passphrase dialog, review screen, lock screen).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageGrab

from db.keys import AUDIT_KEY, open_secrets
from db.store import Store

TOOLS = ("Xvfb", "xdotool", "openbox", "xset")
PASSPHRASE = "smoke test passphrase"
PASSWORD = "smoke test password"
NAME = "Robin"

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs Xvfb, xdotool and openbox (scripts/test installs them when run as root: "
    "apt-get install xvfb xdotool openbox x11-xserver-utils)",
)


class Desktop:
    """An X display with a window manager, and a person's keyboard on it."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.env = {**os.environ, "DISPLAY": display}

    def xdotool(self, *args: str) -> str:
        done = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip()

    def wait_window(self, name: str, timeout: float = 120.0) -> str:
        """The id of a visible window whose title contains `name`, once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.xdotool("search", "--onlyvisible", "--name", name)
            if found:
                wid = found.splitlines()[-1]
                self.xdotool("windowactivate", "--sync", wid)
                time.sleep(0.5)
                return wid
            time.sleep(0.5)
        raise AssertionError(f"no window named {name!r} within {timeout} s")

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "30", text)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.xdotool("key", key)
            time.sleep(0.3)

    def screenshot(self, name: str) -> None:
        where = os.environ.get("REVIEWER_SCREENSHOTS")
        if not where:
            return
        Path(where).mkdir(parents=True, exist_ok=True)
        ImageGrab.grab(xdisplay=self.display).save(Path(where) / f"{name}.png")


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        display = f":{f.readline().strip()}"
    desk = Desktop(display)
    wm = subprocess.Popen(
        ["openbox"], env=desk.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # Ordinary keyboard settings: auto-repeat on (X's default, said explicitly).
    subprocess.run(["xset", "r", "on"], env=desk.env, check=True, timeout=10)
    time.sleep(1)
    try:
        yield desk
    finally:
        for p in (wm, xvfb):
            p.terminate()
            p.wait(timeout=10)


def test_a_shift_on_a_real_x_server_from_first_start_to_quit(
    desktop: Desktop, reviewer_data_dir: Path
) -> None:
    env = {
        **desktop.env,
        "REVIEWER_DATA_DIR": str(reviewer_data_dir),
        # No OS keyring, as on a bare window manager: the passphrase dialog comes up.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PYTHONFAULTHANDLER": "1",
    }
    for name in ("REVIEWER_KEY_PASSPHRASE", "REVIEWER_DB", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    app = subprocess.Popen(
        [sys.executable, "-m", "reviewer.cli"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        desktop.wait_window("create the key vault", timeout=60)
        desktop.screenshot("passphrase_dialog")
        desktop.type(PASSPHRASE)
        desktop.keys("Tab")
        desktop.type(PASSPHRASE)
        desktop.keys("Return")

        desktop.wait_window("create the first account", timeout=60)
        desktop.type(NAME)
        desktop.keys("Tab")
        desktop.type(PASSWORD)
        desktop.keys("Tab")
        desktop.type(PASSWORD)
        desktop.keys("Return")

        desktop.wait_window("Check-in", timeout=240)  # after the demo queue is seeded
        desktop.keys("Escape")  # the optional check-in, skipped
        window = desktop.wait_window(f"Reviewer — {NAME}")
        time.sleep(2)
        desktop.screenshot("review_1366x768")
        for _ in range(3):
            desktop.xdotool("windowactivate", "--sync", window)
            desktop.keys("n", "ctrl+Return")  # Not illegal, submitted
            time.sleep(2)

        desktop.keys("ctrl+shift+l")
        time.sleep(1)
        desktop.screenshot("lock_screen")
        desktop.type(PASSWORD)
        desktop.keys("Return")
        time.sleep(2)
        desktop.keys("ctrl+q")
        code = app.wait(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
        _out, err = app.communicate(timeout=30)
    assert "Fatal Python error" not in err, err[-3000:]
    assert code == 0, err[-3000:]

    secrets = open_secrets(reviewer_data_dir, PASSPHRASE)  # the vault the dialog made
    audit_key = secrets.get(AUDIT_KEY)
    assert audit_key is not None
    store = Store.open(f"sqlite:///{reviewer_data_dir / 'reviewer.db'}", audit_key=audit_key)
    try:
        assert len(store.items.decisions()) == 3
        kinds = [e.kind for e in store.audit_events()]
        assert kinds.index("screen_locked") < kinds.index("unlock_ok")
    finally:
        store.close()
