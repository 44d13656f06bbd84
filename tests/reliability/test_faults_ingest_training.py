"""Interrupted ingestion and failed training: nothing partial is written, and what served before keeps serving.

Ingestion: a local HTTP server replays the recorded OAI-PMH pages and breaks
the second page (the connection dropped mid-body, or a truncated document);
the run fails as a whole and the next run completes. Training: an exception
inside fit and a worse model both leave the previous version serving the same
ranking.
"""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recommender import serving
from recommender.ingest.entries import IngestError, TransientIngestError
from recommender.ingest.services import ingest_run
from recommender.models import FeedState, IngestRun, ModelStatus, ModelVersion, Paper, RunStatus
from recommender.training.services import model_train
from tests.factories import make_community, make_paper

pytestmark = pytest.mark.django_db


class OAIServer:
    """Serves page 1 of an OAI harvest, then page 2 in the way ``mode`` says ("drop", "truncate" or "ok")."""

    def __init__(self, first: bytes, last: bytes):
        self.mode = "drop"
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                body = last if "resumptionToken" in self.path else first
                broken = body is last and server.mode != "ok"
                if broken and server.mode == "truncate":
                    body = body[: len(body) // 2]  # a complete HTTP response carrying half a document
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if broken and server.mode == "drop":
                    self.wfile.write(body[: len(body) // 2])  # promise it all, send half, hang up
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oai"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def oai_server(shared_data):
    feeds = shared_data / "feeds" / "arxiv-oai"
    server = OAIServer(
        (feeds / "arXivRaw_ListRecords.xml").read_bytes(), (feeds / "arXiv_ListRecords_hep-th.xml").read_bytes()
    )
    yield server
    server.stop()


@pytest.mark.parametrize(
    "mode, error, transient",
    [("drop", "connection lost", True), ("truncate", "truncated", False)],
    ids=["connection-dropped-mid-page-2", "parse-error-on-last-page"],
)
def test_interrupted_oai_harvest_writes_nothing_and_the_next_run_completes(oai_server, mode, error, transient):
    oai_server.mode = mode
    with pytest.raises(IngestError) as raised:
        ingest_run(source="arxiv-oai", url=oai_server.url, delay=0, timeout=5)
    assert isinstance(raised.value, TransientIngestError) is transient  # the task retries only the first
    assert error in str(raised.value).lower()
    assert len(oai_server.requests) == 2  # page 1 was read in full, page 2 broke
    assert Paper.objects.count() == 0
    assert not FeedState.objects.exists()  # no validators saved from a failed run either
    failed = IngestRun.objects.get()
    assert failed.status == RunStatus.FAILED and error in failed.error.lower()

    oai_server.mode = "ok"
    run = ingest_run(source="arxiv-oai", url=oai_server.url, delay=0, timeout=5)
    assert run.status == RunStatus.SUCCEEDED and (run.entries, run.created) == (9, 9)
    assert Paper.objects.count() == 9


# --- training ------------------------------------------------------------------------------


def _community():
    """Three fields and readers who each stick to one; fresh papers to rank."""
    _, by_field = make_community(papers_per_field=10, readers_per_field=5)
    readers = [user for users in by_field.values() for user in users]
    fresh = [make_paper(category=c) for c in ("cs.CV", "cs.CL", "cs.LG") for _ in range(3)]
    return readers, [p.pk for p in fresh]


def _ranking(readers, candidates) -> dict:
    serving.reset_cache()
    recs = serving.recommend_for_users(user_ids=[u.pk for u in readers], candidate_ids=candidates, n=5)
    return {uid: [(r.paper_id, round(r.score, 6)) for r in rs] for uid, rs in recs.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "params, what",
    [
        ({"factors": -4}, "an invalid hyper-parameter: the exception is raised inside fit"),
        ({"n_components": "corrupt"}, "a corrupt parameter value"),
    ],
    ids=["exception-in-fit", "corrupt-input"],
)
def test_failed_training_keeps_the_previous_version_serving_the_same_ranking(params, what):
    readers, candidates = _community()
    good = model_train()
    assert good.is_active
    before = _ranking(readers, candidates)
    with pytest.raises(Exception):  # noqa: B017 - any failure will do; the outcome below is what matters
        model_train(params=params, activate="always")
    failed = ModelVersion.objects.exclude(pk=good.pk).get()
    print(f"{what}: {failed.error[:120]}")
    assert failed.status == ModelStatus.FAILED and failed.error and not failed.is_active, what
    assert ModelVersion.objects.get(is_active=True).pk == good.pk
    assert serving.active_model(refresh=True)[0] == good.pk
    assert _ranking(readers, candidates) == before


@pytest.mark.slow
def test_a_worse_model_is_not_activated_and_the_ranking_is_unchanged():
    readers, candidates = _community()
    good = model_train()
    before = _ranking(readers, candidates)
    # Every scoring term off: the ranking is noise, so its holdout nDCG falls below the active one's.
    worse = model_train(
        params={
            "knn_weight": 0.0,
            "centroid_weight": 0.0,
            "cf_weight": 0.0,
            "prior_weight": 0.0,
            "category_weight": 0.0,
        }
    )
    assert worse.status == ModelStatus.REJECTED and not worse.is_active
    assert ModelVersion.objects.get(is_active=True).pk == good.pk
    assert _ranking(readers, candidates) == before


class EndlessServer:
    """Streams an RSS-looking body of ``size`` bytes without Content-Length, generated chunk by chunk."""

    def __init__(self, size: int):
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunk = b"<item><title>" + b"x" * 65_000 + b"</title></item>\n"
                try:
                    self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                    while server.sent < size:
                        self.wfile.write(chunk)
                        server.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/rss/cs.LG"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_100_mb_streamed_body_is_cut_at_the_cap_without_reading_it_all(settings):
    import tracemalloc

    from recommender.ingest.entries import DocumentError

    settings.PAPERBOY = {**settings.PAPERBOY, "INGEST_MAX_BYTES": 2 * 1024 * 1024}
    server = EndlessServer(100 * 1024 * 1024)
    try:
        tracemalloc.start()
        with pytest.raises(DocumentError, match="exceeds the 2097152-byte limit"):
            ingest_run(source="arxiv-rss", url=server.url, timeout=10)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.stop()
    print(f"100 MB stream: server wrote {server.sent / 1e6:.1f} MB before the cut, client peak {peak / 1e6:.1f} MB")
    assert peak < 16 * 1024 * 1024  # the cap plus buffers, not the body
    assert server.sent < 50 * 1024 * 1024  # the client hung up long before the end
    assert Paper.objects.count() == 0
    assert IngestRun.objects.get().status == RunStatus.FAILED


def test_a_gzip_bomb_hits_the_cap_on_decoded_bytes(settings):
    """100 MB of XML whitespace in a ~100 KB gzip body: the cap counts what is decompressed."""
    import gzip
    import tracemalloc

    from recommender.ingest.entries import DocumentError

    settings.PAPERBOY = {**settings.PAPERBOY, "INGEST_MAX_BYTES": 2 * 1024 * 1024}
    bomb = gzip.compress(b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * (100 * 1024 * 1024), 9)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))  # small: passes the declared-size check
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(bomb)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        tracemalloc.start()
        with pytest.raises(DocumentError, match="exceeds the 2097152-byte limit"):
            ingest_run(source="arxiv-rss", url=f"http://127.0.0.1:{httpd.server_address[1]}/rss", timeout=10)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        httpd.shutdown()
        httpd.server_close()
    print(f"gzip bomb: {len(bomb) / 1e3:.0f} KB compressed, client peak {peak / 1e6:.1f} MB")
    assert len(bomb) < 2 * 1024 * 1024 and peak < 16 * 1024 * 1024
    assert Paper.objects.count() == 0
