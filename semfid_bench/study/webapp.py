"""The rating web app of ``semfid-bench study serve`` (Starlette, served by uvicorn).

Raters enter a code, see a GT and an SR image side by side and answer "is there a semantic
change?" (buttons, or the keys ← / n for no and → / y for yes); each answer is committed to
SQLite (:mod:`semfid_bench.study.answer_store`) before the next pair is shown
(:mod:`semfid_bench.study.schedule`). Admin pages (token in ``?token=`` or the
``X-Admin-Token`` header) show progress per pair, raters' trap accuracy and the answers as
CSV. Hostile input is assumed: every field is checked (4xx otherwise), images are looked up
by an item's key among the manifest's own files (never a path from the request), user text
is escaped by Jinja2's autoescape, and pages allow only the app's own scripts (CSP).
"""

from __future__ import annotations

import csv
import hmac
import io
import re
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from semfid_bench.datasets.manifest import Manifest
from semfid_bench.escaping import csv_text
from semfid_bench.study.answer_store import ANSWER_COLUMNS, StudyStore
from semfid_bench.study.answers import Answer
from semfid_bench.study.mos import trap_accuracies
from semfid_bench.study.schedule import Schedule, build_items

HERE = Path(__file__).parent / "web"
RATER_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}")
"""A rater's name or code: 1–64 letters, digits, space and ``_ . @ -``, not starting with
a symbol (so it is safe in a URL, a CSV cell and a spreadsheet)."""
MAX_FORM_BYTES = 4096
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)


def _page(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    html = _templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _rater_code(value: str | None) -> str:
    code = (value or "").strip()
    if not RATER_CODE.fullmatch(code):
        raise HTTPException(400, "A rater code is 1-64 letters, digits, spaces or _ . @ -.")
    return code


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form, each field at most once (413/415/400 otherwise)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise HTTPException(415, "Send the form as application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "Form too large.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "Malformed form.") from exc
    if any(len(values) != 1 for values in fields.values()):
        raise HTTPException(400, "Each form field must be sent once.")
    return {name: values[0] for name, values in fields.items()}


def create_app(
    manifest: Manifest,
    db: Path,
    admin_token: str,
    raters_per_pair: int = 5,
    trap_rate: float = 0.1,
    seed: int = 0,
) -> Starlette:
    """The rating app for ``manifest``'s pairs, storing answers in the SQLite file ``db``."""
    if len(admin_token) < 8:
        raise ValueError("The admin token must be at least 8 characters long.")
    pairs, traps = build_items(manifest, seed)
    schedule = Schedule(pairs, traps, raters_per_pair, trap_rate, seed)
    store = StudyStore(db)
    store.record_session(manifest.path, seed, raters_per_pair, trap_rate)
    expected_token = admin_token.encode()

    def check_admin(request: Request) -> str:
        given = request.query_params.get("token") or request.headers.get("x-admin-token")
        if not given:
            raise HTTPException(401, "Admin pages need the admin token.")
        if not hmac.compare_digest(given.encode(), expected_token):
            raise HTTPException(403, "Wrong admin token.")
        return given

    async def home(request: Request) -> Response:
        return _page("login.html")

    async def rate(request: Request) -> Response:
        rater = _rater_code(request.query_params.get("rater"))
        store.add_rater(rater)
        answered = store.answered(rater)
        item = schedule.next_item(rater, answered, store.raters_per_pair())
        if item is None:
            return _page("done.html", rater=rater, answered=len(answered))
        return _page("rate.html", rater=rater, item=item, answered=len(answered))

    async def answer(request: Request) -> Response:
        form = await _form(request)
        rater = _rater_code(form.get("rater"))
        item = schedule.by_key.get(form.get("item", ""))
        if item is None:
            raise HTTPException(404, "Unknown item.")
        if form.get("answer") not in ("yes", "no"):
            raise HTTPException(400, "The answer must be yes or no.")
        store.add_rater(rater)
        store.record(rater, item, form["answer"] == "yes")
        return RedirectResponse(f"/rate?rater={quote(rater)}", status_code=303)

    async def image(request: Request) -> Response:
        item = schedule.by_key.get(request.path_params["key"])
        side = request.path_params["side"]
        if item is None or side not in ("gt", "sr"):
            raise HTTPException(404, "No such image.")
        return FileResponse(item.gt if side == "gt" else item.sr, headers=HEADERS)

    def answers() -> list[Answer]:
        return [
            Answer(r, p, a == "yes", None if not trap else e == "yes")
            for r, p, a, trap, e, _ in store.rows()
        ]

    async def admin(request: Request) -> Response:
        token = check_admin(request)
        last = {(a.rater, a.pair_id): a for a in answers()}
        counts: dict[str, list[bool]] = {}
        for a in last.values():
            counts.setdefault(a.pair_id, []).append(a.answer)
        accuracy = trap_accuracies(list(last.values()))
        given = {r: sum(1 for a in last.values() if a.rater == r) for r in accuracy}
        traps_of = {r: sum(1 for a in last.values() if a.rater == r and a.is_trap) for r in given}
        progress = [(p.pair_id, counts.get(p.pair_id, [])) for p in pairs]
        return _page(
            "admin.html",
            token=token,
            progress=progress,
            target=raters_per_pair,
            raters=[
                (r, given.get(r, 0), traps_of.get(r, 0), accuracy.get(r)) for r in store.raters()
            ],
            complete=sum(len(v) >= raters_per_pair for _, v in progress),
        )

    async def answers_csv(request: Request) -> Response:
        check_admin(request)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ANSWER_COLUMNS)
        for rater, pair_id, answer_, is_trap, expected, at in store.rows():
            writer.writerow(
                [csv_text(rater), csv_text(pair_id), answer_, is_trap, expected or "", at]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="answers.csv"', **HEADERS},
        )

    async def error(request: Request, exc: HTTPException) -> Response:
        return _page("error.html", status_code=exc.status_code, message=exc.detail)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        store.close()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/rate", rate),
            Route("/answer", answer, methods=["POST"]),
            Route("/image/{key}/{side}", image),
            Route("/admin", admin),
            Route("/admin/answers.csv", answers_csv),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={HTTPException: error},
        lifespan=lifespan,
    )
    app.state.store, app.state.schedule = store, schedule
    return app
