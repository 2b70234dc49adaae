"""A loopback NDIF server for tests: the real wire protocol over real sockets, nnsight's own server-side execution.

nnsight's client (``nnsight/intervention/backends/remote.py``, 0.8.x) talks to NDIF like this:

* blocking (``remote=True``): open the websocket ``GET /subscribe`` (the first text frame names the session), then
  ``POST /request`` as multipart: form field ``data`` = the ``RequestModel`` JSON envelope (``model_key``,
  ``session_id``, ``compress``, ``env``) and file ``blob`` = the cloudpickled (tracer, block source), zstd-compressed
  when ``compress``. The POST answers a ``ResponseModel`` (RECEIVED + job id); status updates then arrive on the
  websocket, JSON text frames or, for COMPLETED, a binary frame (``ResponseModel.pickle()``) whose ``data`` is the
  result blob itself, or a URL to download it from when the result is large.
* non-blocking (``blocking=False``): the same POST with no session; the client polls ``GET /response/{id}`` and on
  COMPLETED downloads ``data`` (a URL).
* result blob: ``torch.save({saved name: value})``, zstd-compressed when the request was.
* the API key travels only in the ``ndif-api-key`` header.

This server answers all of that from an aiohttp app on a background thread, bound to a loopback address only. Each
request is executed the way an NDIF worker does it: ``RequestModel.deserialize`` against the server's own copy of the
model (resolving the persistent module ids), then ``tracer.execute`` and collecting the values marked saved. The
models it serves are a dict ``model_key -> nnsight model`` (build the key with ``client_model.to_model_key()``).

Test hooks: ``api_key`` (require this key; 401 otherwise), ``fail_next(message)`` (the next job fails on the
worker), ``inline_limit`` (results above it are staged for download instead of sent on the websocket), ``log`` /
``log_text`` (one line per HTTP/websocket event; the API key is never written, only whether one came and whether it
matched), ``payloads`` (every decompressed request blob, to check what the client shipped).
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import linecache
import logging
import threading
import time
import traceback
import uuid
from typing import Any

import torch
from aiohttp import WSMsgType, web

from nnsight.schema.request import RequestModel
from nnsight.schema.response import ResponseModel, Status
from nnsight.tracing import tracer as _tracing

logger = logging.getLogger("tests.ndif_server")

API_KEY_HEADER = "ndif-api-key"


class InjectedServerError(RuntimeError):
    """A failure the test asked the server to produce (see :meth:`NDIFServer.fail_next`)."""


def execute_request(server_model: Any, blob: bytes, envelope: RequestModel) -> dict[str, Any]:
    """Run one request on ``server_model`` like an NDIF worker, returning ``{name: value}`` of the saved values."""
    server_model._remoteable_set_env(envelope.env)
    # deserialize() registers the shipped block source in linecache under the client's file name. A real worker is
    # another process; here the client shares ours, and it reads its own source through linecache when it captures
    # the next `with` block, so put back whatever was there.
    before = dict(linecache.cache)
    try:
        tracer = RequestModel.deserialize(blob, server_model._remoteable_persistent_objects(),
                                          compress=envelope.compress)
    finally:
        for name in set(linecache.cache) - set(before):
            linecache.cache.pop(name, None)
        linecache.cache.update(before)
    frame = tracer.info.frame
    _tracing.inc()  # this worker thread now runs an outermost trace: save() marks, push_result filters
    try:  # as NDIF does: no no_grad() around the request (a trace may ask for gradients), parameters frozen
        tracer.execute(tracer.info.code)
        saved = _tracing._saves()
        return {name: value for name, value in frame.f_locals.items() if id(value) in saved}
    finally:
        _tracing.dec()


def encode_result(result: dict[str, Any], compress: bool) -> bytes:
    buf = io.BytesIO()
    torch.save(result, buf)
    data = buf.getvalue()
    if compress:
        import zstandard as zstd

        data = zstd.ZstdCompressor(level=3).compress(data)
    return data


class NDIFServer:
    """An NDIF-protocol server on ``127.0.0.1`` (or another loopback address) in a daemon thread.

    >>> server = NDIFServer({model.to_model_key(): server_side_model}, api_key="k").start()   # doctest: +SKIP
    >>> model.trace(prompt, remote=server.url)                                                # doctest: +SKIP
    >>> server.stop()                                                                         # doctest: +SKIP
    """

    def __init__(self, models: dict[str, Any] | None = None, *, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, inline_limit: int = 1 << 20) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"test server must bind a loopback address, got {host!r}")
        self.models: dict[str, Any] = dict(models or {})
        self.api_key = api_key
        self.host = host
        self.port = port
        self.inline_limit = inline_limit
        self.log: list[str] = []
        self.payloads: list[bytes] = []
        self.jobs: dict[str, dict[str, Any]] = {}  # id -> {"status", "response", "result", "model_key"}
        self._failures: list[str] = []
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="ndif-test-server", daemon=True)

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> NDIFServer:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("NDIF test server did not start within 20 s")
        if self._error is not None:
            raise RuntimeError(f"NDIF test server failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(20)

    def __enter__(self) -> NDIFServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_model(self, model_key: str, model: Any) -> None:
        """Serve ``model`` under ``model_key`` with its parameters frozen, as an NDIF deployment loads a model."""
        module = getattr(model, "_module", None)
        if module is not None:
            module.requires_grad_(False)
        self.models[model_key] = model

    def fail_next(self, message: str = "CUDA out of memory (injected by the test server)") -> None:
        """Make the next job fail on the worker with ``message`` (as a real worker failure would)."""
        with self._lock:
            self._failures.append(message)

    @property
    def log_text(self) -> str:
        with self._lock:
            return "\n".join(self.log)

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()
            self.payloads.clear()

    # ---------------------------------------------------------------------------------------------------- server
    def _serve(self) -> None:
        try:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application(client_max_size=1 << 30, middlewares=[self._access_log])
            app.router.add_get("/subscribe", self._subscribe)
            app.router.add_post("/request", self._request)
            app.router.add_get("/response/{id}", self._response)
            app.router.add_get("/result/{id}", self._result)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
        except BaseException as e:  # noqa: BLE001 - reported by start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        for ws in list(self._sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().shutdown_default_executor()

    def _record(self, line: str) -> None:
        with self._lock:
            self.log.append(line)
        logger.info(line)

    def _key_state(self, request: web.Request) -> str:
        """How the request authenticated, in words that never contain the key itself."""
        sent = request.headers.get(API_KEY_HEADER)
        if not sent:
            return "key=none"
        if self.api_key is None:
            return "key=given(unchecked)"
        return "key=ok" if sent == self.api_key else "key=invalid"

    @web.middleware
    async def _access_log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in ("nnsight-version", "upgrade")}
        peer = request.remote
        try:
            response = await handler(request)
        except web.HTTPException as e:
            self._record(f"{request.method} {request.path} from {peer} {self._key_state(request)} -> {e.status} "
                         f"headers={headers}")
            raise
        self._record(f"{request.method} {request.path} from {peer} {self._key_state(request)} -> "
                     f"{response.status} headers={headers}")
        return response

    def _authenticate(self, request: web.Request) -> None:
        if self.api_key is None:
            return
        sent = request.headers.get(API_KEY_HEADER)
        if not sent:
            detail = "Missing API key: this server requires an NDIF API key (set NDIF_API_KEY)."
        elif sent != self.api_key:
            detail = "Invalid API key: the key sent was not accepted by this server."
        else:
            return
        raise web.HTTPUnauthorized(text=json.dumps({"detail": detail}), content_type="application/json")

    async def _subscribe(self, request: web.Request) -> web.WebSocketResponse:
        self._authenticate(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = uuid.uuid4().hex
        self._sockets[session] = ws
        await ws.send_str(json.dumps({"session_id": session}))
        try:
            async for message in ws:  # the client only listens; hold the socket until it closes
                if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            self._sockets.pop(session, None)
        return ws

    async def _request(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        form = await request.post()
        if "data" not in form or "blob" not in form:
            raise web.HTTPBadRequest(text=json.dumps({"detail": "multipart form needs fields 'data' and 'blob'"}),
                                     content_type="application/json")
        envelope = RequestModel.model_validate_json(form["data"])
        blob = form["blob"].file.read()
        payload = blob
        if envelope.compress:
            import zstandard as zstd

            payload = zstd.ZstdDecompressor().decompress(blob)
        job = uuid.uuid4().hex
        with self._lock:
            self.payloads.append(payload)
            self.jobs[job] = {"model_key": envelope.model_key, "status": Status.RECEIVED, "response": None,
                              "result": None}
        self._record(f"job {job} model_key={envelope.model_key} blocking={bool(envelope.session_id)} "
                     f"compress={envelope.compress} env={envelope.env} payload={len(payload)}B")
        received = ResponseModel(id=job, status=Status.RECEIVED, description="Your job has been received.")
        self.jobs[job]["response"] = received
        asyncio.get_running_loop().create_task(self._process(job, envelope, blob))
        return web.Response(text=received.model_dump_json(), content_type="application/json")

    async def _publish(self, envelope: RequestModel, response: ResponseModel, binary: bool = False) -> None:
        job = self.jobs[response.id]
        job["status"], job["response"] = response.status, response
        self._record(f"job {response.id} {response.status.value} {response.description}")
        ws = self._sockets.get(envelope.session_id) if envelope.session_id else None
        if ws is not None and not ws.closed:
            if binary:
                await ws.send_bytes(response.pickle())
            else:
                await ws.send_str(response.model_dump_json())

    async def _process(self, job: str, envelope: RequestModel, blob: bytes) -> None:
        await self._publish(envelope, ResponseModel(id=job, status=Status.QUEUED, description="queued"))
        model = self.models.get(envelope.model_key)
        if model is None:
            await self._publish(envelope, ResponseModel(
                id=job, status=Status.ERROR,
                description=f"Model {envelope.model_key!r} is not deployed on this server."))
            return
        await self._publish(envelope, ResponseModel(id=job, status=Status.RUNNING, description="running"))
        with self._lock:
            injected = self._failures.pop(0) if self._failures else None
        started = time.perf_counter()
        try:
            if injected is not None:
                raise InjectedServerError(injected)
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(None, execute_request, model, blob, envelope)
            data = encode_result(result, envelope.compress)
        except Exception as e:  # noqa: BLE001 - every worker failure goes back to the client as ERROR
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            await self._publish(envelope, ResponseModel(id=job, status=Status.ERROR, description=last,
                                                        meta={"seconds": time.perf_counter() - started}))
            return
        meta = {"bytes": len(data), "seconds": time.perf_counter() - started}
        self.jobs[job]["result"] = data
        if envelope.session_id and len(data) <= self.inline_limit:
            done = ResponseModel(id=job, status=Status.COMPLETED, description="completed", data=data, meta=meta)
            await self._publish(envelope, done, binary=True)
        else:
            done = ResponseModel(id=job, status=Status.COMPLETED, description="completed",
                                 data=f"{self.url}/result/{job}", meta=meta)
            await self._publish(envelope, done)

    async def _response(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        job = self.jobs.get(request.match_info["id"])
        if job is None or job["response"] is None:
            raise web.HTTPNotFound(text=json.dumps({"detail": "no such job"}), content_type="application/json")
        response: ResponseModel = job["response"]
        if isinstance(response.data, (bytes, bytearray)):  # polled jobs always get a URL, never inline bytes
            response = response.model_copy(update={"data": f"{self.url}/result/{response.id}"})
        return web.Response(text=response.model_dump_json(), content_type="application/json")

    async def _result(self, request: web.Request) -> web.Response:
        # A presigned-URL stand-in: no key header (the client sends none), the unguessable job id is the credential.
        job = self.jobs.get(request.match_info["id"])
        if job is None or job["result"] is None:
            raise web.HTTPNotFound(text=json.dumps({"detail": "no such result"}), content_type="application/json")
        return web.Response(body=job["result"], content_type="application/octet-stream")
