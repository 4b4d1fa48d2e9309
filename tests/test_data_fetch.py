"""Downloads with checksums, against a loopback HTTP server (127.0.0.1 only, never the internet).

The served files are small datasets in the real formats; their "published" checksums are
computed here and patched into the source table.
"""

import hashlib
import socket
import threading
import types

import numpy as np
import pooch
import pytest
from data_helpers import (
    cifar_archive,
    isolate,
    loopback_server,
    md5_of,
    write_cifar_folder,
    write_idx_folder,
)

from bnlab import cli
from bnlab.data import download as fetch_module
from bnlab.data import fetch, load_cifar10, load_fashion_mnist
from bnlab.data.download import ChecksumError, Source, download_file

IDX_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture(autouse=True)
def no_waiting_between_attempts(monkeypatch):
    """pooch sleeps 1 s, 2 s, ... before trying a failed download again; the tests need not."""
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=lambda seconds: None))


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    """A served folder ``mirror/<name>/`` per dataset, the source table pointing at it."""
    isolate(monkeypatch, tmp_path)
    served = tmp_path / "served"
    fm = served / "fashion-mnist"
    arrays = write_idx_folder(fm, num_train=30, num_test=10)
    cifar_archive(write_cifar_folder(tmp_path / "cifar-src", 3), served / "cifar10" / "c.tar.gz")
    md5s = {
        "fashion-mnist": {f: md5_of(fm / f) for f in IDX_FILES},
        "cifar10": {"c.tar.gz": md5_of(served / "cifar10" / "c.tar.gz")},
    }
    monkeypatch.setattr(fetch_module, "RETRIES", 0)  # failures fail at once (pooch waits to retry)
    with loopback_server(served) as (url, requests):
        for name, files in md5s.items():
            source = Source(f"{url}/{name}/", files, archive=name == "cifar10")
            monkeypatch.setitem(fetch_module.SOURCES, name, source)
        yield {"url": url, "requests": requests, "served": served, "arrays": arrays}


def test_fetch_fashion_mnist_then_load_it(mirror, tmp_path):
    folder = fetch("fashion-mnist", tmp_path / "root", progress=False)
    assert folder == tmp_path / "root" / "fashion-mnist"
    for name in IDX_FILES:
        assert (folder / name).read_bytes() == (
            mirror["served"] / "fashion-mnist" / name
        ).read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(IDX_FILES)  # no temp files left
    data = load_fashion_mnist(tmp_path / "root", num_val=5, subtract_mean=False)
    np.testing.assert_allclose(
        data["X_test"][:, 0] * 255, mirror["arrays"]["test_images"], atol=1e-3
    )


def test_default_root_is_the_cache_the_loaders_search(mirror, tmp_path):
    folder = fetch("fashion-mnist", progress=False)
    assert folder == tmp_path / "home" / ".cache" / "bnlab" / "fashion-mnist"
    assert len(load_fashion_mnist(num_val=5)["X_train"]) == 25


def test_present_good_files_are_not_downloaded_again(mirror, tmp_path, capsys):
    fetch("fashion-mnist", tmp_path, progress=False)
    assert len(mirror["requests"]) == 4
    fetch("fashion-mnist", tmp_path, progress=False)
    assert len(mirror["requests"]) == 4
    assert capsys.readouterr().out.count("already present, checksum ok") == 4


def test_a_present_bad_file_is_replaced(mirror, tmp_path, capsys):
    bad = tmp_path / "fashion-mnist" / IDX_FILES[0]
    bad.parent.mkdir()
    bad.write_bytes(b"half a download")
    fetch("fashion-mnist", tmp_path, progress=False)
    assert md5_of(bad) == fetch_module.SOURCES["fashion-mnist"].md5[IDX_FILES[0]]
    assert "checksum is wrong; downloading it again" in capsys.readouterr().out


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path):
    url = f"{mirror['url']}/fashion-mnist/{IDX_FILES[1]}"
    dest = tmp_path / "out" / IDX_FILES[1]
    with pytest.raises(ChecksumError, match="checksum mismatch") as info:
        download_file(url, dest, "0" * 32, progress=False)
    assert url in str(info.value) and "0" * 32 in str(info.value)
    assert list((tmp_path / "out").iterdir()) == []  # neither the file nor a .part


def test_checksum_mismatch_keeps_the_old_file(mirror, tmp_path):
    dest = tmp_path / "out" / IDX_FILES[1]
    dest.parent.mkdir()
    dest.write_bytes(b"the old content")
    with pytest.raises(ChecksumError):
        download_file(
            f"{mirror['url']}/fashion-mnist/{IDX_FILES[1]}", dest, "0" * 32, progress=False
        )
    assert dest.read_bytes() == b"the old content"
    assert list(dest.parent.iterdir()) == [dest]  # no .part left


def test_unreachable_file_names_the_url(mirror, tmp_path):
    url = f"{mirror['url']}/nothing-here.gz"
    with pytest.raises(
        ConnectionError, match=r"could not download .*nothing-here\.gz: HTTP Error 404"
    ):
        download_file(url, tmp_path / "out" / "x.gz", "0" * 32, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_connection_refused_names_the_url(tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/file.gz"
    with pytest.raises(ConnectionError, match=f"could not download {url}: .*refused"):
        download_file(url, tmp_path / "file.gz", "0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_progress_bar(mirror, tmp_path, capsys):
    download_file(
        f"{mirror['url']}/fashion-mnist/{IDX_FILES[0]}",
        tmp_path / IDX_FILES[0],
        fetch_module.SOURCES["fashion-mnist"].md5[IDX_FILES[0]],
    )
    err = capsys.readouterr().err
    assert IDX_FILES[0] in err and "100%" in err


def serve_truncated_bodies(body: bytes, num_truncated: int):
    """A loopback server announcing ``len(body)`` bytes but sending half, then closing, for its
    first ``num_truncated`` requests, and the whole body after. Returns (URL, stop)."""
    listener = socket.create_server(("127.0.0.1", 0))
    served = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed: stop
                return
            with connection:
                connection.recv(65536)  # the request; its content does not matter
                cut = len(body) // 2 if len(served) < num_truncated else len(body)
                served.append(cut)
                header = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                connection.sendall(header + body[:cut])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the thread
        listener.close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{listener.getsockname()[1]}/file.gz", served, stop


def test_a_dropped_connection_is_reported_as_such(tmp_path):
    body = bytes(range(256)) * 400
    url, served, stop = serve_truncated_bodies(body, num_truncated=10)
    dest = tmp_path / "out" / "file.gz"
    dest.parent.mkdir()
    dest.write_bytes(b"the old content")
    try:
        with pytest.raises(ConnectionError) as info:
            download_file(url, dest, md5_of_bytes(body), progress=False)
    finally:
        stop()
    message = str(info.value)
    assert f"could not download {url}: the connection was dropped" in message
    assert "checksum" not in message and "IncompleteRead" in message
    assert len(served) == 1 + fetch_module.RETRIES
    assert dest.read_bytes() == b"the old content" and list(dest.parent.iterdir()) == [dest]


def test_a_dropped_connection_is_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module, "RETRIES", 1)
    body = bytes(range(256)) * 40
    url, served, stop = serve_truncated_bodies(body, num_truncated=1)
    try:
        assert download_file(url, tmp_path / "file.gz", md5_of_bytes(body), progress=False)
    finally:
        stop()
    assert (tmp_path / "file.gz").read_bytes() == body and served == [len(body) // 2, len(body)]


def md5_of_bytes(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def test_debian_fashion_mnist_is_found_before_any_download(mirror, tmp_path, capsys):
    debian = tmp_path / "system" / "fashion-mnist"  # isolate() made this the system folder
    write_idx_folder(debian, num_train=30, num_test=10, gz=False)
    assert fetch("fashion-mnist") == debian
    assert mirror["requests"] == [] and "nothing to download" in capsys.readouterr().out
    assert len(load_fashion_mnist(num_val=5)["X_train"]) == 25
    fetch("fashion-mnist", tmp_path / "root", progress=False)  # an explicit root downloads
    assert len(mirror["requests"]) == 4


def test_bnlab_mirror_environment_variable(mirror, tmp_path, monkeypatch):
    monkeypatch.setitem(
        fetch_module.SOURCES,
        "fashion-mnist",
        Source("http://127.0.0.1:9/unused/", fetch_module.SOURCES["fashion-mnist"].md5),
    )
    monkeypatch.setenv("BNLAB_MIRROR", mirror["url"])
    fetch("fashion-mnist", tmp_path, progress=False)
    assert mirror["requests"] == [f"/fashion-mnist/{name}" for name in IDX_FILES]


def test_fetch_cifar10_extracts_then_removes_the_archive(mirror, tmp_path, capsys):
    folder = fetch("cifar10", tmp_path, progress=False)
    assert folder == tmp_path / "cifar-10-batches-py"
    assert not (tmp_path / "c.tar.gz").exists()
    data = load_cifar10(tmp_path, num_val=3)
    assert data["X_train"].shape == (12, 3, 32, 32) and data["class_names"][0] == "name0"
    fetch("cifar10", tmp_path, progress=False)
    assert len(mirror["requests"]) == 1 and "already present" in capsys.readouterr().out


def test_hostile_archive_members_are_ignored(mirror, tmp_path):
    archive = mirror["served"] / "cifar10" / "c.tar.gz"
    source = tmp_path / "cifar-src" / "cifar-10-batches-py"
    extra = {"../escaped": b"x", "cifar-10-batches-py/../../escaped2": b"x"}
    cifar_archive(source, archive, extra)
    fetch_module.SOURCES["cifar10"].md5["c.tar.gz"] = md5_of(archive)
    fetch("cifar10", tmp_path / "root", progress=False)
    assert not list(tmp_path.rglob("escaped*"))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="cannot fetch 'bundled'; valid names: fashion-mnist"):
        fetch("bundled")


@pytest.fixture
def data_cli(monkeypatch):
    """``bnlab.cli.main`` with only the data command registered (the others are not tested here)."""
    monkeypatch.setattr(cli, "COMMANDS", ("data",))
    return cli.main


def test_cli_fetch(mirror, tmp_path, capsys, data_cli):
    argv = ["data", "fetch", "fashion-mnist", "--dir", str(tmp_path / "d"), "--no-progress"]
    assert data_cli(argv) == 0
    assert "fashion-mnist: ready in" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "d" / "fashion-mnist").iterdir()) == sorted(IDX_FILES)


def test_cli_fetch_bad_checksum_fails_cleanly(mirror, tmp_path, capsys, data_cli, monkeypatch):
    md5 = dict.fromkeys(IDX_FILES, "0" * 32)
    monkeypatch.setitem(fetch_module.SOURCES, "fashion-mnist", Source("http://127.0.0.1:9/", md5))
    argv = ["data", "fetch", "fashion-mnist", "--dir", str(tmp_path / "d"), "--no-progress"]
    assert data_cli([*argv, "--mirror", f"{mirror['url']}/fashion-mnist"]) == 1
    assert "bnlab data fetch: checksum mismatch" in capsys.readouterr().err
    assert list((tmp_path / "d" / "fashion-mnist").iterdir()) == []


def test_cli_list_and_info(mirror, tmp_path, capsys, data_cli):
    fetch("fashion-mnist", progress=False)
    assert data_cli(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "home" / ".cache" / "bnlab" / "fashion-mnist") in out
    assert "cifar10" in out and "not found; bnlab data fetch cifar10" in out
    assert data_cli(["data", "info", "bundled"]) == 0
    assert "train X (6500, 1, 28, 28) float32" in capsys.readouterr().out
    assert data_cli(["data", "info", "mnist"]) == 1
    assert "MNIST not found" in capsys.readouterr().err
