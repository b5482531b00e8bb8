"""Headless Chromium (Debian's package) driven by Playwright, and axe-core checks of a page."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "patient_inbox"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
MOBILE: ViewportSize = {"width": 375, "height": 812}


@contextmanager
def chromium() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Chromium is missing: run `scripts/bootstrap.sh test` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core violations of impact serious or critical on the page as it is now."""
    results = Axe().run(page)
    assert results.response["passes"], "axe-core checked nothing: is the page empty?"
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"]][:3]}
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def activate(page: Page, base: str, *, ins: str, code: str, birth_date: str, password: str) -> str:
    """The activation pages driven with the keyboard and labels; returns the TOTP secret. Ends logged in."""
    page.goto(f"{base}/patient/activation")
    page.get_by_label("Code d'activation").fill(code)
    page.get_by_label("Matricule INS").fill(ins)
    page.get_by_label("Date de naissance").fill(birth_date)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/activation/mot-de-passe")
    page.get_by_label("Nouveau mot de passe").fill(password)
    page.get_by_label("Confirmez le mot de passe").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/activation/double-authentification")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Code à usage unique").fill(pyotp.TOTP(secret).at(time.time()))
    page.get_by_role("button", name="Activer mon espace").click()
    page.wait_for_url("**/patient/messages?bienvenue=1")
    return secret


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
