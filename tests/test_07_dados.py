"""Capítulo 07: o download_dataset da série baixando um segundo texto (o Machado) com as mesmas garantias.

Um servidor HTTP de verdade, em 127.0.0.1, serve dois textos; cada um tem o seu nome e o seu SHA-256 no cache.
"""
import hashlib

import pytest
import requests

from localserver import QuietHandler, cache_files, serve
from nbcode import ROOT, definitions

nb = definitions("07")
download_dataset, DatasetError = nb["download_dataset"], nb["DatasetError"]
SHAKESPEARE_NAME, MACHADO_NAME = nb["DATA_FILENAME"], nb["MACHADO_FILENAME"]

SHAKESPEARE = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 40
MACHADO = "--Continue, disse eu accordando.\n\n--Já acabei, murmurou elle.\n".encode("utf-8") * 40
SHA = {name: hashlib.sha256(body).hexdigest() for name, body in (("s", SHAKESPEARE), ("m", MACHADO))}
REAL = ROOT / "data" / MACHADO_NAME


class TwoTexts(QuietHandler):
    hits = []
    bodies = {"/input.txt": SHAKESPEARE, "/machado.txt": MACHADO,
              "/machado-alterado.txt": MACHADO.replace("elle".encode(), b"ele")}

    def do_GET(self):
        TwoTexts.hits.append(self.path)
        if self.path == "/real-machado.txt" and REAL.is_file():
            body, status = REAL.read_bytes(), 200
        else:
            body, status = self.bodies.get(self.path, b"nao existe"), 200 if self.path in self.bodies else 404
        self.send_body(body, status)


@pytest.fixture(scope="module")
def server():
    with serve(TwoTexts) as url:
        yield url


@pytest.fixture(autouse=True)
def clear_hits():
    TwoTexts.hits.clear()


def get_machado(server, folder, route="/machado.txt", **options):
    return download_dataset(f"{server}{route}", SHA["m"], MACHADO_NAME, data_dir=folder, timeout=5, **options)


def test_the_two_texts_live_side_by_side_in_the_cache(server, tmp_path):
    machado = get_machado(server, tmp_path)
    shakespeare = download_dataset(f"{server}/input.txt", SHA["s"], data_dir=tmp_path, timeout=5)
    assert machado == tmp_path / MACHADO_NAME and shakespeare == tmp_path / SHAKESPEARE_NAME
    assert machado.read_bytes() == MACHADO and shakespeare.read_bytes() == SHAKESPEARE
    assert cache_files(tmp_path) == sorted([MACHADO_NAME, SHAKESPEARE_NAME])  # nenhum temporário esquecido


def test_a_valid_cache_of_each_is_reused_without_network(server, tmp_path, monkeypatch):
    get_machado(server, tmp_path)
    download_dataset(f"{server}/input.txt", SHA["s"], data_dir=tmp_path, timeout=5)

    def no_network(*args, **kwargs):
        raise AssertionError("tentou usar a rede com um cache válido")

    monkeypatch.setattr(requests, "get", no_network)
    assert get_machado(server, tmp_path).read_bytes() == MACHADO
    assert download_dataset(f"{server}/input.txt", SHA["s"], data_dir=tmp_path).read_bytes() == SHAKESPEARE
    assert TwoTexts.hits == ["/machado.txt", "/input.txt"]


def test_a_checksum_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    with pytest.raises(DatasetError) as info:
        get_machado(server, tmp_path, route="/machado-alterado.txt")
    message = str(info.value)
    assert "SHA-256" in message and MACHADO_NAME in message and "O que fazer" in message
    assert cache_files(tmp_path) == []


def test_a_mismatch_in_one_text_does_not_touch_the_other(server, tmp_path):
    download_dataset(f"{server}/input.txt", SHA["s"], data_dir=tmp_path, timeout=5)
    with pytest.raises(DatasetError):
        get_machado(server, tmp_path, route="/machado-alterado.txt")
    assert cache_files(tmp_path) == [SHAKESPEARE_NAME]
    assert (tmp_path / SHAKESPEARE_NAME).read_bytes() == SHAKESPEARE


def test_a_corrupt_copy_is_set_aside_under_its_own_name(server, tmp_path):
    (tmp_path / MACHADO_NAME).write_bytes(MACHADO[:50])
    assert get_machado(server, tmp_path).read_bytes() == MACHADO
    assert (tmp_path / (MACHADO_NAME + ".invalido")).read_bytes() == MACHADO[:50]


def test_the_env_var_moves_the_cache_of_both(server, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPGPT_DATA_DIR", str(tmp_path / "outro"))
    machado = download_dataset(f"{server}/machado.txt", SHA["m"], MACHADO_NAME, timeout=5)
    shakespeare = download_dataset(f"{server}/input.txt", SHA["s"], timeout=5)
    assert machado.parent == shakespeare.parent == tmp_path / "outro"


def test_machado_constants_are_the_pinned_file():
    assert nb["MACHADO_URL"].startswith("https://raw.githubusercontent.com/Mjrovai/MachadoAssisBot/")
    commit = nb["MACHADO_URL"].split("/")[-2]
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)  # fixada num commit, não num branch
    assert nb["MACHADO_URL"].endswith("/" + MACHADO_NAME) and len(nb["MACHADO_SHA256"]) == 64


@pytest.mark.skipif(not REAL.is_file(), reason="sem a cópia local do Machado em data/")
def test_the_real_file_matches_the_pinned_checksum(server, tmp_path):
    path = download_dataset(f"{server}/real-machado.txt", nb["MACHADO_SHA256"], MACHADO_NAME, data_dir=tmp_path,
                            timeout=10)
    assert path.stat().st_size == 2_465_002
