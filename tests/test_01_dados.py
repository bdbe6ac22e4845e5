"""O download do capítulo 01 (célula `dados`) contra um servidor HTTP de verdade em 127.0.0.1."""
import hashlib
import time

import pytest
import requests

from localserver import QuietHandler, cache_files, serve
from nbcode import ROOT, shared_cells

nb = shared_cells("01", "erros", "dados")
download_dataset, DatasetError = nb["download_dataset"], nb["DatasetError"]
FILENAME = nb["DATA_FILENAME"]

BODY = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50
BODY_SHA = hashlib.sha256(BODY).hexdigest()
REAL = ROOT / "data" / FILENAME


class Handler(QuietHandler):
    hits = []  # caminhos pedidos, em ordem
    flaky = {"n": 0}

    def send_slowly(self, body, pause, pieces=20):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = -(-len(body) // pieces)
        try:
            for i in range(0, len(body), step):
                self.wfile.write(body[i : i + step])
                self.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # o cliente desistiu, como devia

    def do_GET(self):
        Handler.hits.append(self.path)
        if self.path == "/ok":
            self.send_body(BODY)
        elif self.path == "/real":
            self.send_body(REAL.read_bytes())
        elif self.path == "/outro":  # conteúdo diferente do esperado
            self.send_body(BODY.replace(b"speak", b"sleep"))
        elif self.path == "/truncado":  # promete o arquivo todo, manda metade e fecha
            self.send_body(BODY[: len(BODY) // 2], length=len(BODY))
            self.close_connection = True
        elif self.path == "/lento":
            time.sleep(1.5)
            self.send_body(BODY)
        elif self.path == "/gotejando":  # responde logo, mas manda o arquivo a conta-gotas
            self.send_slowly(BODY * 20, pause=0.1)
        elif self.path == "/parado":  # manda metade e para de mandar
            self.send_slowly(BODY, pause=1.5, pieces=2)
        elif self.path == "/instavel":  # falha uma vez com 503, depois funciona
            Handler.flaky["n"] += 1
            self.send_body(b"ocupado", status=503) if Handler.flaky["n"] == 1 else self.send_body(BODY)
        else:
            self.send_body(b"nao existe", status=404)


@pytest.fixture(scope="module")
def server():
    with serve(Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def clear_hits():
    Handler.hits.clear()


def test_good_file_is_downloaded_and_cached(server, tmp_path):
    path = download_dataset(f"{server}/ok", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert path == tmp_path / FILENAME and path.read_bytes() == BODY
    assert cache_files(tmp_path) == [FILENAME]  # nenhum temporário esquecido


@pytest.mark.skipif(not REAL.is_file(), reason="sem a cópia local do tinyshakespeare em data/")
def test_real_file_matches_the_published_checksum(server, tmp_path):
    path = download_dataset(f"{server}/real", data_dir=tmp_path, timeout=10)
    assert path.stat().st_size == 1_115_394


def test_valid_cache_is_reused_without_network(server, tmp_path, monkeypatch):
    download_dataset(f"{server}/ok", BODY_SHA, data_dir=tmp_path, timeout=5)

    def no_network(*args, **kwargs):
        raise AssertionError("tentou usar a rede com um cache válido")

    monkeypatch.setattr(requests, "get", no_network)
    path = download_dataset(f"{server}/ok", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert path.read_bytes() == BODY and Handler.hits == ["/ok"]


def test_env_var_moves_the_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPGPT_DATA_DIR", str(tmp_path / "outro_lugar"))
    path = download_dataset(f"{server}/ok", BODY_SHA, timeout=5)
    assert path.parent == tmp_path / "outro_lugar" and path.read_bytes() == BODY


@pytest.mark.parametrize(
    ("route", "timeout", "words"),
    [
        ("/outro", 5, "SHA-256"),
        ("/truncado", 5, "parou no meio do download"),
        ("/nao-existe", 5, "HTTP 404"),
        ("/lento", 0.3, "não respondeu em 0.3 s"),
    ],
)
def test_bad_download_leaves_nothing_in_cache(server, tmp_path, route, timeout, words):
    with pytest.raises(DatasetError) as info:
        download_dataset(f"{server}{route}", BODY_SHA, data_dir=tmp_path, timeout=timeout)
    message = str(info.value)
    assert words in message and "O que fazer" in message
    assert cache_files(tmp_path) == []


def test_trickling_download_gives_up_at_the_deadline(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetError) as info:
        download_dataset(f"{server}/gotejando", BODY_SHA, data_dir=tmp_path, timeout=1, deadline=0.5)
    # cada pedaço chega dentro do timeout: sem o prazo total, as duas tentativas levariam uns 5 s
    assert "não terminou em 0.5 s" in str(info.value) and "O que fazer" in str(info.value)
    assert time.monotonic() - start < 3.5 and Handler.hits == ["/gotejando", "/gotejando"]
    assert cache_files(tmp_path) == []


def test_stalled_download_is_not_called_offline(server, tmp_path):
    with pytest.raises(DatasetError) as info:
        download_dataset(f"{server}/parado", BODY_SHA, data_dir=tmp_path, timeout=0.3)
    message = str(info.value)
    assert "parou no meio do download" in message and "sem internet" not in message
    assert cache_files(tmp_path) == []


def test_truncated_body_never_passes(server, tmp_path):
    with pytest.raises(DatasetError):
        download_dataset(f"{server}/truncado", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert Handler.hits == ["/truncado", "/truncado"]  # tentou de novo uma vez


def test_not_found_is_not_retried(server, tmp_path):
    with pytest.raises(DatasetError):
        download_dataset(f"{server}/nao-existe", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert Handler.hits == ["/nao-existe"]


def test_server_error_is_retried(server, tmp_path):
    Handler.flaky["n"] = 0
    path = download_dataset(f"{server}/instavel", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert path.read_bytes() == BODY and Handler.hits == ["/instavel", "/instavel"]


def test_offline_without_cache_says_what_to_do(tmp_path):
    with socket_closed_port() as port:
        with pytest.raises(DatasetError) as info:
            download_dataset(f"http://127.0.0.1:{port}/input.txt", BODY_SHA, data_dir=tmp_path, timeout=2)
    message = str(info.value)
    assert "sem internet" in message and "IMPGPT_DATA_DIR" in message
    assert str(tmp_path.resolve()) in message  # diz em que pasta salvar o arquivo baixado à mão
    assert cache_files(tmp_path) == []


def test_corrupt_cache_is_set_aside_and_replaced(server, tmp_path):
    (tmp_path / FILENAME).write_bytes(BODY[:100])  # um download antigo pela metade
    path = download_dataset(f"{server}/ok", BODY_SHA, data_dir=tmp_path, timeout=5)
    assert path.read_bytes() == BODY
    assert (tmp_path / (FILENAME + ".invalido")).read_bytes() == BODY[:100]  # nada se perde


def test_error_renders_in_jupyter_without_traceback(tmp_path):
    error = DatasetError("mensagem clara")
    assert error._render_traceback_() == ["DatasetError: mensagem clara"]


class socket_closed_port:
    """Uma porta local sem ninguém escutando: a conexão é recusada, como sem internet."""

    def __enter__(self):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc):
        return False
