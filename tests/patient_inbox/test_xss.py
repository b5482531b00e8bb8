"""An XSS corpus in professionals' HTML (and subject and name), rendered in Chromium: nothing executes.

The page is opened twice: once with the Content-Security-Policy bypassed, so the sanitiser alone must stop
everything, and once normally. A canary HTTP server on 127.0.0.1 proves that no remote content (image, CSS,
frame, form) is fetched. Every link of the rendered body is clicked too.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar, cast

import pytest
from playwright._impl._api_structures import SetCookieParam
from playwright.sync_api import BrowserContext, Dialog, Page

from tests.gateway import RunningGateway
from tests.patient_inbox.browser import DESKTOP, activate, chromium
from tests.patient_inbox.factories import PATIENT_PASSWORD
from tests.patient_inbox.test_browser import add_doctor, add_patient, send

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

CORPUS = [
    "<script>window.__xss='script';alert(1)</script>",
    "<img src=x onerror=\"window.__xss='img-onerror'\">",
    '<img src="{canary}/img">',
    "<a href=\"javascript:window.__xss='js-link'\">lien javascript</a>",
    "<a href=\"jav&#x09;ascript:window.__xss='tab-link'\">lien tabulé</a>",
    "<a href=\"data:text/html,<script>alert('data')</script>\">lien data</a>",
    "<svg onload=\"window.__xss='svg'\"><script>window.__xss='svg-script'</script></svg>",
    "<svg><animate onbegin=\"window.__xss='animate'\" attributeName=x dur=1s></animate></svg>",
    '<div style="background:url({canary}/css-attr)">css attribut</div>',
    "<style>body{{background:url({canary}/css-style)}}</style>",
    '<link rel=stylesheet href="{canary}/link">',
    "<iframe src=\"javascript:parent.__xss='iframe'\"></iframe>",
    "<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>",
    '<iframe src="{canary}/frame"></iframe>',
    "<object data=\"javascript:window.__xss='object'\"></object>",
    '<embed src="{canary}/embed">',
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss-math'\">",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss='mxss-noscript'>\">",
    '<form action="{canary}/form"><button>Envoyer le formulaire</button></form>',
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss='meta'\">",
    '<base href="{canary}/">',
    "<<script>script>window.__xss='nested'<</script>/script>",
    "<img \"\"\"><script>window.__xss='quotes'</script>\">",
    "<scr<script>ipt>window.__xss='split'</script>",
    "<details open ontoggle=\"window.__xss='details'\"><summary>détails</summary></details>",
    "<video><source onerror=\"window.__xss='video'\"></video>",
    "<body onload=\"window.__xss='body'\">",
    "<input autofocus onfocus=\"window.__xss='autofocus'\">",
    '<p style="width:expression(alert(1))">expression</p>',
    "<a href=\"#\" onclick=\"window.__xss='onclick'\">lien onclick</a>",
    "<p>texte non fermé <b>gras <i>italique",
]


class Canary(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Canary.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def canary() -> Iterator[str]:
    Canary.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def hostile_message(to: str, canary: str) -> bytes:
    body = "\r\n".join(f"<div>{payload.format(canary=canary)}</div>" for payload in CORPUS)
    return (
        'From: "<img src=x onerror=alert(1)> Dr Martin" <dr.martin@mssante.localhost>\r\n'
        f"To: {to}\r\n"
        "Subject: <script>window.__xss='subject'</script> Résultats\r\n"
        "Message-ID: <xss-corpus@mssante.localhost>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n<script>window.__xss='text'</script>\r\n"
        f"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        "--b--\r\n"
    ).encode()


def plain_message(to: str) -> bytes:
    return (
        f"From: Dr Martin <dr.martin@mssante.localhost>\r\nTo: {to}\r\nSubject: texte\r\n"
        "Message-ID: <xss-plain@mssante.localhost>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "<script>window.__xss='plain'</script><img src=x onerror=window.__xss='plain-img'>\r\n"
    ).encode()


def visit_everything(context: BrowserContext, page: Page, base: str, dialogs: list[str]) -> None:
    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    context.on("page", lambda popup: popup.close())
    page.goto(f"{base}/patient/messages")
    links = page.locator("ul.inbox a")
    urls = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(urls) == 2
    for url in urls:
        page.goto(f"{base}{url}")
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        executed(page, dialogs)
        assert page.locator("article .body button, article .body form, article .body img").count() == 0
        body_links = page.locator("article .body a")
        for i in range(body_links.count()):
            body_links.nth(i).click(no_wait_after=True, timeout=5000)
            page.wait_for_timeout(100)
            executed(page, dialogs)
        assert page.url.startswith(f"{base}{url}")
        assert page.title().endswith("Messagerie santé")


def executed(page: Page, dialogs: list[str]) -> None:
    """Fail if any payload ran: a dialog opened or the marker variable was set."""
    assert dialogs == []
    assert page.evaluate("window.__xss") is None, page.evaluate("window.__xss")

def test_nothing_in_the_corpus_executes(gateway: RunningGateway, canary: str) -> None:
    add_doctor(gateway)
    ins, address, code = add_patient(gateway)
    send(gateway, hostile_message(address, canary), address)
    send(gateway, plain_message(address), address)
    base = f"http://127.0.0.1:{gateway.ports['http']}"
    dialogs: list[str] = []
    with chromium() as browser:
        without_csp = browser.new_context(viewport=DESKTOP, bypass_csp=True)  # the sanitiser alone
        page = without_csp.new_page()
        activate(page, base, ins=ins, code=code, birth_date="1985-07-14", password=PATIENT_PASSWORD)
        visit_everything(without_csp, page, base, dialogs)
        cookies = without_csp.cookies()
        without_csp.close()
        with_csp = browser.new_context(viewport=DESKTOP)
        with_csp.add_cookies([cast(SetCookieParam, dict(cookie)) for cookie in cookies])
        visit_everything(with_csp, with_csp.new_page(), base, dialogs)
        with_csp.close()
    assert dialogs == []
    assert Canary.hits == []
