"""Um servidor HTTP de verdade em 127.0.0.1 para os testes de download, e o que ficou na pasta do cache."""
import threading
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path


@contextmanager
def serve(handler):
    """Sobe `handler` numa porta livre e devolve a URL base; derruba o servidor no fim."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def cache_files(folder):
    """Os nomes dos arquivos na pasta (vazia se ela nem existe): nenhum temporário pode sobrar."""
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []
