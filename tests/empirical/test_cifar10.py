"""download-cifar10 against a server on 127.0.0.1 (never the internet), the default search order, and the one
clear message when CIFAR-10 is missing."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import tarfile
import threading

import numpy as np
import pytest

from empirical.images import cifar10 as data
from empirical.cli import main


def _official_archive(n: int = 6) -> bytes:
    """A small archive in the official format: cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    # gzip's header holds a time stamp: mtime=0 makes the archive, its md5 and so the test ids the same in every
    # process (pytest-xdist workers must collect identical tests)
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        names = [*data.BATCH_FILES, "batches.meta"]
        for name in names:
            if name == "batches.meta":
                obj = {b"label_names": [c.encode() for c in data.CLASSES]}
            else:
                obj = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                       b"labels": [int(v) for v in rng.integers(0, 10, n)]}
            raw = pickle.dumps(obj)
            info = tarfile.TarInfo(f"{data.BATCHES}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


ARCHIVE = _official_archive()
MD5 = hashlib.md5(ARCHIVE).hexdigest()


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1: /ok.tar.gz (the archive), /short.tar.gz (claims more bytes than it sends),
    /junk.tar.gz (not an archive); yields its base URL."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"/ok.tar.gz": ARCHIVE, "/short.tar.gz": ARCHIVE[:1000], "/junk.tar.gz": b"x" * 5000}.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(ARCHIVE) if self.path == "/short.tar.gz" else len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_download_with_the_right_md5_unpacks_and_reads(server, tmp_path, capsys):
    root = tmp_path / "data"
    assert main(["download-cifar10", "--root", str(root), "--url", f"{server}/ok.tar.gz", "--md5", MD5]) == 0
    folder = root / data.BATCHES
    assert capsys.readouterr().out.strip() == str(folder)
    assert sorted(p.name for p in root.iterdir()) == [data.BATCHES]         # no temporary leftovers
    x, y = data.load_cifar10("test", folder, cache_dir=None)
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.uint8 and y.shape == (6,)
    x, _ = data.load_cifar10("train", folder, cache_dir=None)
    assert x.shape == (30, 3, 32, 32)
    assert main(["download-cifar10", "--root", str(root), "--url", f"{server}/missing", "--md5", MD5]) == 0


@pytest.mark.parametrize("path, md5, words", [("ok.tar.gz", "0" * 32, "md5"), ("short.tar.gz", MD5, "stopped"),
                                              ("junk.tar.gz", hashlib.md5(b"x" * 5000).hexdigest(), "damaged"),
                                              ("nothing-here", MD5, "404"), ("ok.tar.gz", "abc", "32 hexadecimal")],
                         ids=["wrong-md5", "short-read", "not-an-archive", "http-404", "bad-md5-option"])
def test_a_bad_download_exits_2_and_leaves_no_folder(server, tmp_path, capsys, path, md5, words):
    root = tmp_path / "fresh"
    assert main(["download-cifar10", "--root", str(root), "--url", f"{server}/{path}", "--md5", md5]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err and len(err.strip().splitlines()) == 1, err
    assert not root.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    assert main(["download-cifar10", "--root", str(existing), "--url", f"{server}/{path}", "--md5", md5]) == 2
    assert list(existing.iterdir()) == []


def test_unreachable_server_is_a_one_line_error(tmp_path, capsys):
    import socket
    with socket.socket() as s:                 # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["download-cifar10", "--root", str(tmp_path / "d"), "--url", f"http://127.0.0.1:{port}/a.tar.gz",
                 "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "failed" in err and not (tmp_path / "d").exists()


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_SOURCE", raising=False)
    monkeypatch.chdir(tmp_path)
    here = tmp_path / "data" / data.BATCHES
    assert data.search_paths()[0] == here
    assert data.default_source() != here
    here.mkdir(parents=True)
    assert data.default_source() == here
    other = tmp_path / "elsewhere.tar.gz"
    monkeypatch.setenv("CIFAR10_SOURCE", str(other))
    assert data.search_paths() == [other] and data.default_source() is None
    with pytest.raises(data.Cifar10NotFound, match="download-cifar10"):
        data.load_cifar10("test", cache_dir=None)


def test_an_installed_copy_looks_only_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR10_SOURCE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "CHECKOUT", None)
    assert data.search_paths() == [tmp_path / "data" / data.BATCHES]
