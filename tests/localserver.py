"""Um servidor HTTP de verdade em 127.0.0.1 para os testes de download, e o que ficou na pasta do cache."""
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class QuietHandler(BaseHTTPRequestHandler):
    """A base dos servidores dos testes: sem log de cada pedido, e send_body para responder de uma vez."""

    def log_message(self, *args):
        pass

    def send_body(self, body, status=200, length=None):
        """Responde `body` com `status`; `length` promete outro Content-Length (para simular um corte)."""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)


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
