"""Without an OS keyring the vault passphrase is asked in a window: created (typed twice)
on first run, entered afterwards; a wrong one is refused in the dialog, and the vault it
opens is the one later runs need."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from pytestqt.qtbot import QtBot

from db.keys import MEDIA_KEY, SecretSource, WrongPassphrase, open_secrets, vault_path
from reviewer import cli_common
from ui.passphrase import PassphraseDialog, _Asker
from ui.tasks import Tasks

GOOD = "correct horse battery"


@pytest.fixture
def no_keyring() -> None:
    keyring.set_keyring(fail.Keyring())  # the autouse fixture restores the previous one


def _dialog(qtbot: QtBot, creating: bool) -> PassphraseDialog:
    dialog = PassphraseDialog(creating, "/data/keys.vault.json", 8)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_first_run_asks_twice_and_says_what_the_passphrase_protects(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot, creating=True)
    assert dialog.focusWidget() is dialog.passphrase  # typing goes to the first field
    text = " ".join(label.text() for label in dialog.findChildren(type(dialog.error)))
    for words in ("no OS keyring", "encrypts every stored picture", "audit", "recover"):
        assert words in text
    assert dialog.again.isVisible()
    submitted: list[str] = []
    dialog.submitted.connect(submitted.append)

    qtbot.keyClicks(dialog.passphrase, "short")
    qtbot.keyClicks(dialog.again, "short")
    dialog.ok.click()
    assert submitted == [] and "at least 8" in dialog.error.text()
    assert dialog.passphrase.text() == "" and dialog.focusWidget() is dialog.passphrase

    qtbot.keyClicks(dialog.passphrase, GOOD)
    qtbot.keyClicks(dialog.again, GOOD + "!")
    dialog.ok.click()
    assert submitted == [] and "differ" in dialog.error.text()

    qtbot.keyClicks(dialog.passphrase, GOOD)
    qtbot.keyClicks(dialog.again, GOOD)
    dialog.ok.click()
    assert submitted == [GOOD]
    assert not dialog.ok.isEnabled()  # busy: not sent twice


def test_unlock_asks_once(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot, creating=False)
    assert not dialog.again.isVisible()
    assert dialog.focusWidget() is dialog.passphrase
    submitted: list[str] = []
    dialog.submitted.connect(submitted.append)
    qtbot.keyClicks(dialog.passphrase, "x")  # any length: the vault decides
    dialog.ok.click()
    assert submitted == ["x"]


def test_the_dialog_creates_the_vault_and_refuses_a_wrong_passphrase_later(
    qtbot: QtBot, no_keyring: None, reviewer_data_dir: Path
) -> None:
    tasks = Tasks(synchronous=True)

    def opener(passphrase: str) -> SecretSource:
        return cli_common.opened_vault(reviewer_data_dir, passphrase)

    create = _dialog(qtbot, creating=True)
    asker = _Asker(create, tasks, opener)
    qtbot.keyClicks(create.passphrase, GOOD)
    qtbot.keyClicks(create.again, GOOD)
    create.ok.click()
    assert asker.result is not None and create.result() == create.DialogCode.Accepted
    assert vault_path(reviewer_data_dir).exists()
    media_key = asker.result.get(MEDIA_KEY)
    assert media_key is not None

    unlock = _dialog(qtbot, creating=False)
    asker = _Asker(unlock, tasks, opener)
    qtbot.keyClicks(unlock.passphrase, "not the passphrase")
    unlock.ok.click()
    assert asker.result is None and unlock.isVisible()
    assert "wrong passphrase" in unlock.error.text()
    qtbot.keyClicks(unlock.passphrase, GOOD)
    unlock.ok.click()
    assert asker.result is not None and asker.result.get(MEDIA_KEY) == media_key
    with pytest.raises(WrongPassphrase):
        open_secrets(reviewer_data_dir, "not the passphrase")
