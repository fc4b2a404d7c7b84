"""Protocol-level garbage, written raw to the TLS socket or sent with paths aiohttp's client would normalise:
bad methods and versions, path traversal, invalid percent-encoding, huge and broken headers, HEAD and OPTIONS.
"""

from __future__ import annotations

from tests.integration.hostile.harness import Row


def _request(line: str, *headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join([line, "Host: 127.0.0.1", *headers, "Connection: close"])
    return head.encode("latin-1") + b"\r\n\r\n" + body


RAW: dict[str, bytes] = {
    "unknown method": _request("FROB /acme/acme/directory HTTP/1.1"),
    "lower-case method": _request("get /health HTTP/1.1"),
    "http 9.9": _request("GET /health HTTP/9.9"),
    "no version": b"GET /health\r\n\r\n",
    "binary request line": b"\x00\x01\x02\x03\r\n\r\n",
    "huge header": _request("GET /health HTTP/1.1", "X-Big: " + "a" * 100_000),
    "many headers": _request("GET /health HTTP/1.1", *(f"X-H{i}: v" for i in range(500))),
    "header without colon": _request("GET /health HTTP/1.1", "Broken header line"),
    "header nul": _request("GET /health HTTP/1.1", "X-Nul: a\x00b"),
    "huge url": _request("GET /root/" + "a" * 100_000 + " HTTP/1.1"),
    "negative content-length": _request("POST /1.0/sign HTTP/1.1", "Content-Length: -1"),
    "content-length garbage": _request("POST /1.0/sign HTTP/1.1", "Content-Length: abc"),
    "two content-lengths": _request("POST /1.0/sign HTTP/1.1", "Content-Length: 2", "Content-Length: 3", body=b"{}"),
    "bad chunk": _request("POST /1.0/sign HTTP/1.1", "Transfer-Encoding: chunked", body=b"zz\r\nxx\r\n0\r\n\r\n"),
    "chunked and length": _request("POST /1.0/sign HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 5",
                                   body=b"0\r\n\r\n"),
    "short body": _request("POST /1.0/sign HTTP/1.1", "Content-Length: 100", body=b"{}"),
    "traversal raw": _request("GET /../../../etc/passwd HTTP/1.1"),
    "absolute uri": _request("GET https://evil.test/health HTTP/1.1"),
    "asterisk": _request("OPTIONS * HTTP/1.1"),
    "unicode path": _request("GET /\u00e9\u00ff HTTP/1.1"),
    "acme huge body": _request("POST /acme/acme/new-order HTTP/1.1", "Content-Type: application/jose+json",
                               "Content-Length: 2000000", body=b"{" * 2_000_000),
    "step over the cap": _request("POST /1.0/sign HTTP/1.1", "Content-Type: application/json",
                                  "Content-Length: 2000000", body=b"[" * 2_000_000),
}

PATHS: dict[str, tuple[str, str]] = {
    "traversal encoded": ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
    "traversal into admin": ("GET", "/acme/acme/../../admin/admins"),
    "traversal step": ("GET", "/1.0/../../etc/passwd"),
    "percent garbage root": ("GET", "/%zz"),
    "percent garbage admin": ("GET", "/admin/%zz"),
    "double slash": ("GET", "//1.0//sign"),
    "backslashes": ("GET", "/1.0\\..\\sign"),
    "options sign": ("OPTIONS", "/1.0/sign"),
    "options new-order": ("OPTIONS", "/acme/acme/new-order"),
    "options admin": ("OPTIONS", "/admin/admins"),
    "head sign": ("HEAD", "/1.0/sign"),
    "head new-order": ("HEAD", "/acme/acme/new-order"),
    "head admin": ("HEAD", "/admin/admins"),
    "trace": ("TRACE", "/health"),
    "connect-ish": ("PROPFIND", "/acme/acme/directory"),
}


def protocol_rows() -> list[Row]:
    rows = [Row(f"protocol raw: {name}", "RAW", "/", raw=data) for name, data in RAW.items()]
    rows += [Row(f"protocol: {name}", method, path) for name, (method, path) in PATHS.items()]
    return rows
