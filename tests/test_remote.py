"""Remote execution (NDIF) through the public API, against a real NDIF-protocol server on 127.0.0.1.

``tests/ndif_server.py`` speaks nnsight's wire protocol over real sockets and runs each request with nnsight's own
server-side deserialization against its own copies of the models; nothing here patches nnsight. Every remote result is
checked against an independent local computation (the same weights traced locally, and plain transformers).
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import secrets
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
import xarray as xr

sys.path.insert(0, str(Path(__file__).parent))

import workbench  # noqa: E402
from ndif_server import NDIFServer  # noqa: E402
from tiny_models import char_tokenizer, tiny_model  # noqa: E402
from workbench import load_model  # noqa: E402

ATOL = 1e-5
KINDS = ["gpt2", "llama"]
TEXT = "Hello world"
TEXTS = ["Hello world", "Hi", "The cat sat."]
# The key the server accepts; distinctive, so any place it leaks to is found by a plain substring search.
API_KEY = "sk-test-" + secrets.token_hex(16)
ANALYSES = {"residuals": workbench.residuals, "attention": workbench.attention, "logit_lens": workbench.logit_lens}


# ------------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="module", autouse=True)
def module_env():
    """The key is in the environment while models load too (a handle that copied it at load would be caught)."""
    import nnsight

    configured = nnsight.CONFIG.API.APIKEY
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NDIF_API_KEY", API_KEY)
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield
    nnsight.CONFIG.API.APIKEY = configured  # workbench hands the key to nnsight's config; leave it as we found it


@pytest.fixture(scope="module")
def server():
    srv = NDIFServer(api_key=API_KEY).start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("NDIF_API_KEY", API_KEY)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return API_KEY


def _serve(server: NDIFServer, hf, tokenizer, server_weights=None):
    """A remote handle on ``hf`` plus the server-side copy it runs on (``server_weights`` if given, else ``hf``)."""
    backing = copy.deepcopy(server_weights if server_weights is not None else hf)
    remote = load_model(hf, tokenizer=tokenizer, remote=True, host=server.url)
    server.add_model(remote.envoy.to_model_key(), load_model(backing, tokenizer=tokenizer).envoy)
    return remote


@pytest.fixture(scope="module", params=KINDS)
def pair(request, server, tokenizer):
    """(local handle, remote handle, the plain transformers module) on identical weights."""
    hf = tiny_model(request.param)
    plain = copy.deepcopy(hf)
    local = load_model(copy.deepcopy(hf), tokenizer=tokenizer)
    remote = _serve(server, hf, tokenizer)
    return local, remote, plain


def _run_with_deadline(fn, seconds: float = 60.0):
    """Call ``fn`` in a daemon thread; return (result, exception), failing the test if it is still running."""
    out: dict = {}

    def target():
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"remote call still running after {seconds} s (hung instead of failing)"
    return out.get("result"), out.get("error")


def _assert_same(remote_result, local_result):
    assert type(remote_result) is type(local_result)
    if isinstance(local_result, xr.Dataset):
        assert set(remote_result.data_vars) == set(local_result.data_vars)
        np.testing.assert_array_equal(remote_result.token_id.values, local_result.token_id.values)
        np.testing.assert_array_equal(remote_result.token.values, local_result.token.values)
        for var in ("prob", "entropy"):
            np.testing.assert_allclose(remote_result[var].values, local_result[var].values, atol=ATOL, rtol=0)
    else:
        assert remote_result.dims == local_result.dims and remote_result.shape == local_result.shape
        np.testing.assert_allclose(remote_result.values, local_result.values, atol=ATOL, rtol=0)
    for name, coord in local_result.coords.items():
        np.testing.assert_array_equal(remote_result.coords[name].values, coord.values)
    assert remote_result.attrs["remote"] == 1 and local_result.attrs["remote"] == 0


# -------------------------------------------------------------------------------------------- blocking == local
@pytest.mark.parametrize("analysis", list(ANALYSES))
@pytest.mark.parametrize("text", [TEXT, TEXTS], ids=["single", "list"])
def test_blocking_remote_matches_local(pair, server, analysis, text):
    local, remote, _ = pair
    jobs_before = set(server.jobs)
    fn = ANALYSES[analysis]
    got = fn(remote, text)
    new_jobs = [server.jobs[j] for j in set(server.jobs) - jobs_before]
    assert len(new_jobs) == 1, "the remote analysis did not go through the server (exactly once)"
    assert new_jobs[0]["status"] == "COMPLETED" and new_jobs[0]["result"]
    assert new_jobs[0]["model_key"] == remote.envoy.to_model_key()
    _assert_same(got, fn(local, text))


def test_remote_matches_plain_transformers(pair, server):
    """Independent of workbench's trace code: remote residuals/attention/lens against a plain HF forward."""
    _, remote, plain = pair
    jobs_before = len(server.jobs)
    enc = remote.tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        out = plain(**enc, output_hidden_states=True, output_attentions=True)
    resid = workbench.residuals(remote, TEXT)
    n = remote.n_layers
    # HF's hidden_states[0..n-1] are our residual layers 0..n-1 (its last entry has the final norm applied)
    for layer in range(n):
        np.testing.assert_allclose(resid.sel(layer=layer).values, out.hidden_states[layer][0].numpy(), atol=ATOL)
    att = workbench.attention(remote, TEXT)
    for layer in range(n):
        np.testing.assert_allclose(att.sel(layer=layer).values, out.attentions[layer][0].numpy(), atol=ATOL)
    lens = workbench.logit_lens(remote, TEXT, k=3)
    top = out.logits[0].float().softmax(-1).topk(3, dim=-1)
    np.testing.assert_array_equal(lens.token_id.sel(layer=n).values, top.indices.numpy())
    np.testing.assert_allclose(lens.prob.sel(layer=n).values, top.values.numpy(), atol=ATOL)
    assert len(server.jobs) == jobs_before + 3


def test_results_are_computed_by_the_server(server, tokenizer):
    """The server's own weights produce the answer: serve other weights under the client's key and the result is
    theirs, not the client's (a client that silently ran locally would fail this)."""
    client_hf = tiny_model("gpt2", seed=0)
    client_hf.name_or_path = "tiny-gpt2-swapped"
    other = tiny_model("gpt2", seed=1)
    remote = _serve(server, client_hf, tokenizer, server_weights=other)
    mine = workbench.residuals(load_model(tiny_model("gpt2", seed=0), tokenizer=tokenizer), TEXT)
    theirs = workbench.residuals(load_model(tiny_model("gpt2", seed=1), tokenizer=tokenizer), TEXT)
    got = workbench.residuals(remote, TEXT)
    np.testing.assert_allclose(got.values, theirs.values, atol=ATOL, rtol=0)
    assert np.abs(got.values - mine.values).max() > 1e-2


def test_large_result_is_downloaded_from_url(pair, server):
    """Results above the server's inline limit come back as a URL the client downloads (as NDIF does)."""
    local, remote, _ = pair
    server.inline_limit = 0
    try:
        got = workbench.attention(remote, TEXTS)
    finally:
        server.inline_limit = 1 << 20
    assert "GET /result/" in server.log_text
    _assert_same(got, workbench.attention(local, TEXTS))


# ----------------------------------------------------------------------------------------------- non-blocking
def test_non_blocking_round_trip(pair, server):
    """``blocking=False`` through the handle's trace: submit, then poll GET /response/{id} until the result lands."""
    local, remote, _ = pair
    batch = remote.tokenize(TEXTS)
    last = remote.n_layers - 1
    with torch.no_grad(), remote.trace(batch, blocking=False) as tracer:
        probs = remote.attention_module(0).output[1].save()  # in execution order
        hidden = remote.blocks[last].output.save()
    backend = tracer.backend
    assert backend.job_id in server.jobs
    assert server.jobs[backend.job_id]["model_key"] == remote.envoy.to_model_key()
    result, deadline = None, time.monotonic() + 30
    while result is None:
        assert time.monotonic() < deadline, "non-blocking job never completed"
        result = backend()  # polls; the saved values once COMPLETED
        if result is None:
            time.sleep(0.02)
    assert set(result) == {"hidden", "probs"}
    assert f"GET /response/{backend.job_id}" in server.log_text
    with torch.no_grad(), local.trace(local.tokenize(TEXTS)):
        probs_local = local.attention_module(0).output[1].save()
        hidden_local = local.blocks[last].output.save()
    torch.testing.assert_close(result["hidden"], hidden_local, atol=ATOL, rtol=0)
    torch.testing.assert_close(result["probs"], probs_local, atol=ATOL, rtol=0)


# -------------------------------------------------------------------------------------------------------- errors
def test_server_side_error_surfaces(pair, server):
    _, remote, _ = pair
    server.fail_next("CUDA out of memory: tried to allocate 80 GiB (test)")
    _, error = _run_with_deadline(lambda: workbench.residuals(remote, TEXT))
    assert error is not None, "a failed job returned a result"
    assert type(error).__name__ == "RemoteError"
    assert "CUDA out of memory" in str(error)
    # the server is fine afterwards: the next request succeeds
    assert workbench.residuals(remote, TEXT).sizes["layer"] == remote.n_layers + 1


def test_execution_error_on_server_surfaces(server, tokenizer):
    """The request itself fails in nnsight's server-side code: the served model has fewer blocks than the client's."""
    client_hf = tiny_model("gpt2")
    client_hf.name_or_path = "tiny-gpt2-mismatched"
    smaller = copy.deepcopy(client_hf)
    del smaller.transformer.h[2]
    smaller.config.n_layer = 2
    remote = _serve(server, client_hf, tokenizer, server_weights=smaller)
    _, error = _run_with_deadline(lambda: workbench.attention(remote, TEXT))
    assert type(error).__name__ == "RemoteError", repr(error)
    assert str(error).strip(), "the error says nothing"


def test_unknown_model_surfaces(server, tokenizer):
    hf = tiny_model("gpt2")
    hf.name_or_path = "tiny-gpt2-not-deployed"
    remote = load_model(hf, tokenizer=tokenizer, remote=True, host=server.url)
    _, error = _run_with_deadline(lambda: workbench.logit_lens(remote, TEXT))
    assert type(error).__name__ == "RemoteError"
    assert "not deployed" in str(error) and "tiny-gpt2-not-deployed" in str(error)


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "non-blocking"])
def test_bad_api_key(pair, server, monkeypatch, blocking):
    _, remote, _ = pair
    wrong = "sk-test-wrong-" + secrets.token_hex(8)
    monkeypatch.setenv("NDIF_API_KEY", wrong)
    jobs_before = len(server.jobs)
    if blocking:
        _, error = _run_with_deadline(lambda: workbench.residuals(remote, TEXT))
    else:
        def submit():
            with torch.no_grad(), remote.trace(remote.tokenize(TEXT), blocking=False):
                h = remote.blocks[0].output.save()  # noqa: F841
        _, error = _run_with_deadline(submit)
    assert error is not None, "a wrong API key was accepted"
    message = str(error)
    assert "401" in message or "Invalid API key" in message, message
    assert wrong not in message and API_KEY not in message
    assert len(server.jobs) == jobs_before, "a request with a wrong key was run"
    assert "key=invalid" in server.log_text


def test_missing_api_key(pair, server, monkeypatch):
    """With the key unset the request goes out without one (the previous request's key must not linger)."""
    _, remote, _ = pair
    assert workbench.residuals(remote, TEXT) is not None  # first with the key: works
    monkeypatch.delenv("NDIF_API_KEY")
    jobs_before = len(server.jobs)
    _, error = _run_with_deadline(lambda: workbench.residuals(remote, TEXT))
    assert error is not None, "a request without an API key was accepted"
    assert "401" in str(error) or "Missing API key" in str(error), str(error)
    assert len(server.jobs) == jobs_before
    assert "key=none" in server.log_text.splitlines()[-1]


# ------------------------------------------------------------------------------------------------- key hygiene
def _contains_key(obj, key: str) -> bool:
    parts = [repr(obj), str(obj.attrs)]
    for name, coord in obj.coords.items():
        parts += [name, repr(coord.values.tolist()), str(coord.attrs)]
    if isinstance(obj, xr.Dataset):
        for name, var in obj.data_vars.items():
            parts += [str(var.attrs)]
            if var.dtype == object:
                parts.append(repr(var.values.tolist()))
    return any(key in p for p in parts)


def test_api_key_never_leaks(pair, server, tmp_path, capsys, caplog):
    _, remote, _ = pair
    caplog.set_level(logging.DEBUG)
    server.clear_log()
    results = {name: fn(remote, TEXTS) for name, fn in ANALYSES.items()}
    assert len(server.payloads) == 3 and server.log_text
    for name, result in results.items():
        assert not _contains_key(result, API_KEY), f"{name} result carries the API key"
        path = workbench.save(result, tmp_path / f"{name}.nc")
        assert API_KEY.encode() not in Path(path).read_bytes(), f"saved {name} file contains the API key"
        assert not _contains_key(workbench.load(path), API_KEY)
    # control: the same byte search does find a key that was written into a file
    canary = results["residuals"].copy()
    canary.attrs["note"] = API_KEY
    assert API_KEY.encode() in Path(workbench.save(canary, tmp_path / "canary.nc")).read_bytes()
    assert "key=ok" in server.log_text
    assert API_KEY not in server.log_text
    # the key travels in the header only, never in the pickled request (which carries the handle and the batch)
    leaked = [i for i, payload in enumerate(server.payloads) if API_KEY.encode() in payload]
    assert not leaked, f"request payloads {leaked} carry the API key"
    assert API_KEY not in repr(remote) and API_KEY not in str(remote)
    assert not any(API_KEY in repr(v) for v in vars(remote).values())
    captured = capsys.readouterr()
    assert API_KEY not in captured.out and API_KEY not in captured.err
    assert API_KEY not in caplog.text
    assert "job" in caplog.text  # the server's log lines did reach logging


# ----------------------------------------------------------------------------------------------- loopback only
def test_traffic_stays_on_loopback(pair, server, monkeypatch):
    _, remote, _ = pair
    assert ipaddress.ip_address(urlparse(server.url).hostname).is_loopback
    assert remote.host == server.url
    with pytest.raises(ValueError, match="loopback"):
        NDIFServer(host="0.0.0.0")
    connects: list = []
    real_connect = socket.socket.connect

    def recording_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            connects.append(address[0])
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    workbench.logit_lens(remote, TEXT, k=2)
    assert connects, "no connection was recorded: the check would not see traffic"
    assert all(ipaddress.ip_address(host).is_loopback for host in connects), connects
    peers = [line.split(" from ")[1].split()[0] for line in server.log if " from " in line]
    assert peers and all(ipaddress.ip_address(p).is_loopback for p in peers)


# ------------------------------------------------------------------------------------------ in-context graph study
def test_incontext_study_remote_matches_local(server):
    """The in-context study's one traced pass per walk runs unchanged on the NDIF-protocol server: the same Dataset,
    and only reduced values (node means per context length, word probabilities) travel back."""
    from tiny_models import tiny_word_model, word_tokenizer
    from workbench.analyses import incontext
    from workbench.zoo.tasks import graphs

    grid = graphs.grid()
    tok = word_tokenizer(grid.words)
    hf = tiny_word_model("gemma3", grid.n, seed=3)
    hf.name_or_path = "tiny-gemma3-words-remote"
    local = load_model(copy.deepcopy(hf), tokenizer=tok)
    remote = _serve(server, hf, tok)
    jobs_before = len(server.jobs)
    kwargs = dict(n_walks=2, length=240, contexts=[30, 120, 240], n_perm=200, progress=False)
    got = incontext.study(remote, grid, **kwargs)
    assert len(server.jobs) == jobs_before + 2, "one request per walk"
    sent = [len(j["result"]) for j in list(server.jobs.values())[jobs_before:]]
    every_state = 240 * (local.n_layers + 1) * local.config.hidden_size * 4  # fp32 states at every position
    assert max(sent) < every_state / 2, (sent, every_state)
    want = incontext.study(local, grid, **kwargs)
    assert set(got.data_vars) == set(want.data_vars)
    for var in want.data_vars:
        if want[var].dtype.kind == "f":
            np.testing.assert_allclose(got[var].values, want[var].values, atol=1e-4, rtol=1e-4, err_msg=var)
        else:
            np.testing.assert_array_equal(got[var].values, want[var].values, err_msg=var)
    assert got.attrs["remote"] == 1 and want.attrs["remote"] == 0


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_patching_remote_matches_local(server, tokenizer, kind):
    """Exact and attribution patching run unchanged on the NDIF-protocol server (heads on grouped-query attention
    included): the same Dataset, one request per chunk, and only metrics and top-k logit changes travel back."""
    hf = tiny_model(kind, seed=5)
    hf.name_or_path = f"tiny-{kind}-patching-remote"
    local = load_model(copy.deepcopy(hf), tokenizer=tokenizer)
    remote = _serve(server, hf, tokenizer)
    pairs = [("The cat sat on it", "The dog sat on it")]
    metric = workbench.logit_diff("t", "g")
    jobs_before = len(server.jobs)
    got = workbench.patch(remote, pairs, metric=metric, heads=True, progress=False)
    assert len(server.jobs) > jobs_before, "the remote sweep did not go through the server"
    sent = [len(j["result"]) for j in list(server.jobs.values())[jobs_before:]]
    runs = sum(got.sizes[d] for d in ("layer",)) * got.sizes["position"] * got.sizes["site"]
    one_state = len(pairs[0][0]) * local.config.hidden_size * 4
    assert max(sent) < runs * one_state / 4, "whole activations came back, not metrics"
    want = workbench.patch(local, pairs, metric=metric, heads=True, progress=False)
    for var in ("metric", "head_metric", "clean_metric", "corrupted_metric"):
        np.testing.assert_allclose(got[var].values, want[var].values, atol=ATOL, rtol=0, err_msg=var)
    # top-k changes: the same magnitudes in the same order (near-ties may swap their token ids)
    np.testing.assert_allclose(np.abs(got.top_change.values), np.abs(want.top_change.values), atol=ATOL)
    first = got.top_token_id.values[..., 0] == want.top_token_id.values[..., 0]
    assert first.mean() > 0.95
    for var in ("effect", "head_effect"):  # normalised by m(clean) - m(corrupted), small on a random model
        np.testing.assert_allclose(got[var].values, want[var].values, atol=1e-4, rtol=0, err_msg=var)
    assert got.attrs["remote"] == 1 and want.attrs["remote"] == 0
    est_remote = workbench.attribution_patch(remote, pairs, metric=metric, heads=True, progress=False)
    est_local = workbench.attribution_patch(local, pairs, metric=metric, heads=True, progress=False)
    for var in ("metric", "head_metric"):
        np.testing.assert_allclose(est_remote[var].values, est_local[var].values, atol=ATOL, rtol=0, err_msg=var)


def test_steering_remote_matches_local(server, tokenizer):
    """A steering vector, steered generation and the likelihood evaluation (frozen attention included) run unchanged
    on the NDIF-protocol server: the same tokens, log-probabilities and scores."""
    from workbench.analyses import steering as S

    hf = tiny_model("llama", seed=7)
    hf.name_or_path = "tiny-llama-steering-remote"
    local = load_model(copy.deepcopy(hf), tokenizer=tokenizer)
    remote = _serve(server, hf, tokenizer)
    jobs_before = len(server.jobs)
    v_remote = S.steering_vector(remote, ["good day", "nice one"], ["bad day", "awful"], layer=1)
    v_local = S.steering_vector(local, ["good day", "nice one"], ["bad day", "awful"], layer=1)
    np.testing.assert_allclose(v_remote.values, v_local.values, atol=ATOL)
    got = S.steer(remote, ["The cat", "a big"], v_local, 1, [0.0, 3.0], max_new_tokens=4, progress=False)
    want = S.steer(local, ["The cat", "a big"], v_local, 1, [0.0, 3.0], max_new_tokens=4, progress=False)
    np.testing.assert_array_equal(got.token_id.values, want.token_id.values)
    np.testing.assert_allclose(got.logprob.values, want.logprob.values, atol=1e-4)
    contexts = [("The cat sat", "t", "g"), ("a big red", " b", " d")]
    ev_r = S.steering_eval(remote, v_local, 1, contexts, [0.0, 2.0], random_seeds=1, freeze_attention=True,
                           progress=False)
    ev_l = S.steering_eval(local, v_local, 1, contexts, [0.0, 2.0], random_seeds=1, freeze_attention=True,
                           progress=False)
    for var in ("score", "frozen_score", "per_context"):
        np.testing.assert_allclose(ev_r[var].values, ev_l[var].values, atol=1e-4, err_msg=var)
    assert len(server.jobs) > jobs_before and got.attrs["remote"] == 1
