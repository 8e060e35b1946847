"""A directory served over HTTP on 127.0.0.1 for the duration of a test (`docker insert`, `ADD URL`)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def serve_directory(directory: str) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:PORT`) of `directory`; stops the server afterwards."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def layer_of(daemon, image_id: str) -> bytes:
    """The layer tar of one image, as `docker save` writes it."""
    import io
    import tarfile

    full = daemon.out("inspect", "-f", "{{.id}}", image_id).strip()
    saved = daemon.cli("save", full, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        return outer.extractfile(f"{full}/layer.tar").read()
