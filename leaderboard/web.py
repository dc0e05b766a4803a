"""The leaderboard's web app (FastAPI; ``pip install .[server]``): board, upload, submission pages and a JSON API.

Uploads are parsed from the request stream with ``python-multipart``'s streaming parser and written
straight into a staged file under the data folder's ``tmp/`` with a random name: the body is cut off with
413 as soon as it passes the benchmark's cap (a declared Content-Length over the cap is refused before
reading anything), the client's file name is only kept, reduced, for display, and nothing but the package's
own static files is ever served from disk. Only aggregate scores are shown (the private part once
revealed); validation reports never depend on the hidden labels.

Routes: ``/`` (benchmarks), ``/b/{name}`` (board), ``/b/{name}/submit`` (form, POST upload),
``/s/{id}`` (a submission), ``/api/benchmarks``, ``/api/benchmarks/{name}``,
``/api/benchmarks/{name}/images``, ``/api/benchmarks/{name}/board``,
``POST /api/benchmarks/{name}/submissions`` (token in ``Authorization: Bearer``), ``/api/submissions/{id}``,
``/static/{file}``, ``/healthz``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from leaderboard import render
from leaderboard.blobs import StagedFile, UploadTooLarge
from leaderboard.service import InvalidSubmission, Leaderboard
from leaderboard.store import AuthenticationError, QuotaExceeded

log = logging.getLogger(__name__)

FIELD_LIMITS = {"token": 200, "method": 400, "paper_url": 2000, "description": 8000}
FILE_FIELD = "file"
MULTIPART_OVERHEAD = 64 * 1024
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class UploadError(Exception):
    """A request the upload parser refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadForm:
    """What a multipart upload carried: small text fields and at most one staged file."""

    fields: dict[str, str] = field(default_factory=dict)
    staged: StagedFile | None = None
    file_name: str = ""


async def receive_upload(request: Request, lb: Leaderboard, max_file_bytes: int) -> UploadForm:
    """Stream a multipart/form-data body into an :class:`UploadForm`, enforcing every cap while reading.

    A ``token`` field sent before the file (as the upload form does) is checked before the file is read.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(415, "expected a multipart/form-data body with a 'file' part")
    max_body = max_file_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise UploadError(400, "malformed Content-Length")
        if int(declared) > max_body:
            raise UploadError(413, f"the upload declares {declared} bytes; the cap is {max_file_bytes} bytes for the file")

    form = UploadForm()
    state: dict[str, Any] = {"name": None, "headers": {}, "field": b"", "hname": b"", "hvalue": b""}

    def on_part_begin() -> None:
        state.update(name=None, headers={}, field=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].strip().lower()] = state["hvalue"].strip()
        state["hname"], state["hvalue"] = b"", b""

    def on_headers_finished() -> None:
        disposition, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or not name:
            raise UploadError(400, "a multipart part without a form-data name")
        if name == FILE_FIELD:
            if form.staged is not None:
                raise UploadError(400, "more than one file part")
            if "token" in form.fields:
                try:
                    lb.check_quota(lb.store.authenticate(form.fields["token"]))
                except AuthenticationError as exc:
                    raise UploadError(401, str(exc)) from None
                except QuotaExceeded as exc:
                    raise UploadError(429, str(exc)) from None
            # the client's file name is kept for display only, never used as a path
            form.file_name = opts.get(b"filename", b"").decode("utf-8", "replace")[:1000]
            form.staged = lb.blobs.stage(max_file_bytes)
        elif name not in FIELD_LIMITS:
            raise UploadError(400, f"unknown form field {name[:40]!r}; expected {', '.join([*FIELD_LIMITS, FILE_FIELD])}")
        elif name in form.fields:
            raise UploadError(400, f"form field {name!r} given twice")
        state["name"] = name

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["name"] == FILE_FIELD:
            form.staged.write(chunk)
        else:
            state["field"] += chunk
            if len(state["field"]) > FIELD_LIMITS[state["name"]]:
                raise UploadError(400, f"form field {state['name']!r} is longer than {FIELD_LIMITS[state['name']]} bytes")

    def on_part_end() -> None:
        if state["name"] != FILE_FIELD and state["name"] is not None:
            form.fields[state["name"]] = state["field"].decode("utf-8", "replace")

    parser = MultipartParser(params[b"boundary"], callbacks={
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise UploadTooLarge(max_file_bytes, received)
            parser.write(chunk)
        parser.finalize()
        if form.staged is None:
            raise UploadError(400, "the form has no 'file' part")
        form.staged.finish()
    except UploadTooLarge as exc:
        _discard(form)
        raise UploadError(413, str(exc)) from None
    except UploadError:
        _discard(form)
        raise
    except ValueError as exc:  # malformed multipart bodies (python-multipart's parse errors are ValueErrors)
        _discard(form)
        log.debug("bad multipart body: %s", exc)
        raise UploadError(400, f"malformed multipart body ({type(exc).__name__})") from None
    return form


def _discard(form: UploadForm) -> None:
    if form.staged is not None:
        form.staged.discard()
        form.staged = None


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def create_app(leaderboard: Leaderboard | None = None, *, root: str | Path | None = None,
               db_url: str | None = None) -> FastAPI:
    """The FastAPI app over a :class:`Leaderboard` (default: the data folder ``root``)."""
    lb = leaderboard or Leaderboard(root, db_url)
    lb.recover()
    app = FastAPI(title="pa100k-bench leaderboard", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.leaderboard = lb
    static = {name: resources.files("leaderboard").joinpath("static", name).read_bytes()
              for name in ("style.css", "board.js")}

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status)

    def known(name: str):
        """The benchmark's public info, or None (never a path built from the client's name)."""
        if name not in lb.store.benchmark_names():
            return None
        return lb.benchmark(name).info

    def api_error(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error": message, **extra}, status_code=status)

    def visible_scores(sub) -> dict[str, Any]:
        parts = lb.visible_parts(sub.benchmark)
        return {part: getattr(sub.score, part) for part in parts}

    def submission_json(sub) -> dict[str, Any]:
        return {
            "id": sub.id, "benchmark": sub.benchmark, "user": sub.user, "method": sub.method,
            "paper_url": sub.paper_url, "description": sub.description, "created_at": sub.created_at,
            "file": {"name": sub.file_name, "sha256": sub.file_sha256, "format": sub.format},
            "scorer": sub.score.scorer, "score_version": sub.score.version, "scores": visible_scores(sub),
            "report": sub.report,
        }

    async def handle_upload(request: Request, name: str) -> tuple[int, dict[str, Any]]:
        """Receive, validate, score and store an upload; returns (HTTP status, JSON-able outcome)."""
        info = known(name)
        if info is None:
            return 404, {"error": f"unknown benchmark {name!r}"}
        header_token = _bearer(request)
        if header_token:  # refuse before reading the body
            try:
                lb.check_quota(lb.store.authenticate(header_token))
            except AuthenticationError as exc:
                return 401, {"error": str(exc)}
            except QuotaExceeded as exc:
                return 429, {"error": str(exc), "used": exc.used, "limit": exc.limit}
        try:
            form = await receive_upload(request, lb, info.max_bytes)
        except UploadError as exc:
            return exc.status, {"error": str(exc)}
        f = form.fields
        try:
            result = await run_in_threadpool(
                lb.submit_staged, form.staged, benchmark=name, token=header_token or f.get("token", ""),
                method=f.get("method", ""), paper_url=f.get("paper_url", ""), description=f.get("description", ""),
                file_name=form.file_name,
            )
        except AuthenticationError as exc:
            return 401, {"error": str(exc)}
        except QuotaExceeded as exc:
            return 429, {"error": str(exc), "used": exc.used, "limit": exc.limit}
        except InvalidSubmission as exc:
            return 422, {"error": f"the file has {exc.report.num_problems} problem(s)", "report": exc.report.to_dict()}
        except ValueError as exc:
            return 400, {"error": str(exc)}
        return 201, {"id": result.id, "url": f"/s/{result.id}", "public": result.public,
                     "report": result.report.to_dict()}

    # ------------------------------------------------------------------ pages

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        counts: dict[str, int] = {}
        for sub in lb.store.submissions():
            counts[sub.benchmark] = counts.get(sub.benchmark, 0) + 1
        return html(render.index_page(lb.benchmarks(), counts))

    @app.get("/b/{name}", response_class=HTMLResponse)
    def board_page(name: str, part: str | None = None) -> HTMLResponse:
        if known(name) is None:
            return html(render.message_page("Not found", f"There is no benchmark {name!r}."), 404)
        try:
            board = lb.board(name, part)
        except PermissionError as exc:
            return html(render.message_page("Not revealed yet", str(exc), back=f"/b/{name}"), 403)
        except ValueError as exc:
            return html(render.message_page("Bad request", str(exc), back=f"/b/{name}"), 400)
        return html(render.board_page(board, lb.visible_parts(name)))

    @app.get("/b/{name}/submit", response_class=HTMLResponse)
    def submit_form(name: str) -> HTMLResponse:
        info = known(name)
        if info is None:
            return html(render.message_page("Not found", f"There is no benchmark {name!r}."), 404)
        return html(render.submit_page(info, "the number of submissions its owner was given"))

    @app.post("/b/{name}/submit")
    async def submit_upload(name: str, request: Request) -> Response:
        status, out = await handle_upload(request, name)
        if status == 201:
            return RedirectResponse(out["url"], status_code=303)
        headings = {400: "Bad request", 401: "Unknown token", 404: "Not found", 413: "File too large",
                    415: "Unsupported upload", 422: "The file has problems", 429: "Daily quota reached"}
        return html(render.message_page(headings.get(status, "Error"), out["error"], back=f"/b/{name}/submit",
                                        report=out.get("report")), status)

    @app.get("/s/{sid}", response_class=HTMLResponse)
    def submission_page(sid: int) -> HTMLResponse:
        try:
            sub = lb.submission(sid)
        except KeyError:
            return html(render.message_page("Not found", f"There is no submission {sid}."), 404)
        info = lb.benchmark(sub.benchmark).info
        return html(render.submission_page(sub, info, lb.visible_parts(sub.benchmark), lb.store.score_history(sid)))

    @app.get("/static/{file}")
    def static_file(file: str) -> Response:
        body = static.get(file)
        if body is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(body, media_type=STATIC_TYPES[Path(file).suffix], headers={"Cache-Control": "max-age=300"})

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "benchmarks": lb.store.benchmark_names()}

    # ------------------------------------------------------------------ JSON API

    @app.get("/api/benchmarks")
    def api_benchmarks() -> list[dict[str, Any]]:
        return [info.to_dict() for info in lb.benchmarks()]

    @app.get("/api/benchmarks/{name}")
    def api_benchmark(name: str) -> Response:
        info = known(name)
        return JSONResponse(info.to_dict()) if info else api_error(404, f"unknown benchmark {name!r}")

    @app.get("/api/benchmarks/{name}/images")
    def api_images(name: str) -> Response:
        info = known(name)
        if info is None:
            return api_error(404, f"unknown benchmark {name!r}")
        if info.task == "attributes":
            return JSONResponse({"images": info.names.tolist(), "attributes": list(info.attributes)})
        return JSONResponse({"query": info.query_names.tolist(), "gallery": info.gallery_names.tolist(),
                             "ranking_depth": info.ranking_depth})

    @app.get("/api/benchmarks/{name}/board")
    def api_board(name: str, part: str | None = None) -> Response:
        if known(name) is None:
            return api_error(404, f"unknown benchmark {name!r}")
        try:
            return JSONResponse(lb.board(name, part).to_dict())
        except PermissionError as exc:
            return api_error(403, str(exc))
        except ValueError as exc:
            return api_error(400, str(exc))

    @app.post("/api/benchmarks/{name}/submissions")
    async def api_submit(name: str, request: Request) -> JSONResponse:
        status, out = await handle_upload(request, name)
        return JSONResponse(out, status_code=status)

    @app.get("/api/submissions/{sid}")
    def api_submission(sid: int) -> Response:
        try:
            return JSONResponse(submission_json(lb.submission(sid)))
        except KeyError:
            return api_error(404, f"unknown submission {sid}")

    return app
