"""Capítulo 07: o texto que o leitor traz (os erros em pt-BR) e o caractere que só aparece na validação."""
import pytest
import torch

from localserver import QuietHandler, serve
from nbcode import ROOT, definitions

nb = definitions("07")
load_text, min_length, prepare_text = nb["load_text"], nb["min_length"], nb["prepare_text"]
normalize_text, only_in_validation = nb["normalize_text"], nb["only_in_validation"]
TextSourceError, FriendlyError = nb["TextSourceError"], nb["FriendlyError"]
MACHADO = ROOT / "data" / nb["MACHADO_FILENAME"]
BLOCK = 64


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_a_good_text_is_read_normalized(tmp_path):
    decomposed = "Corac\u0327a\u0303o\r\n" * 200  # "Coração" em NFD, com quebras de linha do Windows
    text = load_text(write(tmp_path, "nfd.txt", decomposed), BLOCK)
    assert text == "Coração\n" * 200
    assert load_text(write(tmp_path, "bom.txt", "\ufeff" + "Olá\n" * 300), BLOCK).startswith("Olá")  # sem o BOM


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(nb["TextNotFoundError"]) as info:
        load_text(tmp_path / "nao_existe.txt", BLOCK)
    message = str(info.value)
    assert "não existe" in message and str(tmp_path.resolve()) in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, FriendlyError)


def test_a_folder_is_not_a_text(tmp_path):
    with pytest.raises(nb["TextNotFoundError"], match="é uma pasta"):
        load_text(tmp_path, BLOCK)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_not_utf8_gives_the_byte_offset_and_how_to_convert(tmp_path, encoding):
    raw = ("Bom dia. " * 100 + "Coração").encode(encoding)
    expected = raw.index("ç".encode(encoding))  # o primeiro byte que não é UTF-8
    with pytest.raises(nb["NotUTF8Error"]) as info:
        load_text(write(tmp_path, "carta.txt", raw), BLOCK)
    message = str(info.value)
    assert f"o byte {expected}, contando do 0 (0x{raw[expected]:02X}" in message
    assert "iconv -f latin1 -t utf-8 carta.txt" in message and "UTF-8" in message
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        assert error.start == expected


@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n"])
def test_empty_text(tmp_path, content):
    with pytest.raises(nb["EmptyTextError"], match="vazio"):
        load_text(write(tmp_path, "vazio.txt", content), BLOCK)


@pytest.mark.parametrize("block_size", [8, 64, 256])
def test_too_short_is_exactly_what_get_batch_cannot_use(tmp_path, block_size):
    needed = min_length(block_size)
    with pytest.raises(nb["TextTooShortError"]) as info:
        load_text(write(tmp_path, "curto.txt", "a" * (needed - 1)), block_size)
    assert f"block_size={block_size}" in str(info.value) and nb["thousands"](needed) in str(info.value)
    # no limite, o texto serve: a validação tem uma janela e o alvo, e get_batch funciona nela
    text = load_text(write(tmp_path, "no_limite.txt", ("ab" * needed)[:needed]), block_size)
    _, train_data, val_data = prepare_text(text)
    assert len(val_data) == block_size + 1
    x, y = nb["get_batch"](val_data, 4, block_size, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, block_size)


def test_every_error_is_friendly_and_renders_without_traceback():
    for name in ("TextNotFoundError", "NotUTF8Error", "EmptyTextError", "TextTooShortError"):
        error = nb[name]("mensagem")
        assert isinstance(error, TextSourceError) and isinstance(error, FriendlyError)
        assert error._render_traceback_() == [f"{name}: mensagem"]


def test_a_character_only_in_validation_breaks_a_train_only_vocabulary():
    text = "abc abc\n" * 100 + "abcé"  # o "é" cai nos últimos 10%
    assert only_in_validation(text) == ["é"]
    cut = int(0.9 * len(text))
    with pytest.raises(nb["VocabularyError"], match="'é'"):
        nb["CharTokenizer"](text[:cut]).encode(text[cut:])
    tokenizer, train_data, val_data = prepare_text(text)  # o vocabulário do texto inteiro
    assert "é" in tokenizer.stoi and tokenizer.decode(val_data.tolist()) == text[cut:]
    assert tokenizer.stoi["é"] not in train_data.tolist()  # o treino nunca o vê


def test_normalization_puts_every_accent_in_one_form():
    assert normalize_text("e\u0301") == normalize_text("é") == "é"
    assert normalize_text("a\r\nb\rc") == "a\nb\nc"


@pytest.mark.skipif(not MACHADO.is_file(), reason="sem a cópia local do Machado em data/")
def test_machado_has_two_characters_only_in_validation():
    text = normalize_text(MACHADO.read_text(encoding="utf-8"))
    assert only_in_validation(text) == ["§", "œ"]
    tokenizer, _, val_data = prepare_text(text)
    assert tokenizer.vocab_size == 117 and len(val_data) == 241_846


class TextHandler(QuietHandler):
    def do_GET(self):
        found = self.path == "/conto.txt"
        self.send_body(("Era uma vez. " * 100).encode("utf-8") if found else b"nada", 200 if found else 404)


@pytest.fixture(scope="module")
def server():
    with serve(TextHandler) as url:
        yield url


def test_a_url_is_downloaded_and_checked_like_a_file(server):
    assert load_text(f"{server}/conto.txt", BLOCK).startswith("Era uma vez.")
    with pytest.raises(nb["TextTooShortError"], match="conto.txt"):
        load_text(f"{server}/conto.txt", 2048)
    with pytest.raises(nb["DatasetError"], match="Não foi possível baixar"):
        load_text(f"{server}/sumiu.txt", BLOCK)
