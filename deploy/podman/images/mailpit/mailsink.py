"""A development SMTP sink standing in for Mailpit in deploy/compose-live.sh.

SMTP on :1025 accepts every message (no TLS, no auth, like Mailpit's defaults) and
keeps it in memory; HTTP on :8025 answers with the parts of Mailpit's API that the
live run reads: GET /api/v1/messages ({"total", "messages": [{"ID", "From", "To",
"Subject", "Created"}]}, newest first), GET /api/v1/message/{ID} (the same fields plus
"Text" and "HTML", the decoded bodies) and GET /livez.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import http.server
import json
import signal
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller

messages: list[dict] = []
bodies: dict[str, dict] = {}
lock = threading.Lock()


def address(value: str) -> dict:
    name, addr = email.utils.parseaddr(value)
    return {"Name": name, "Address": addr}


class Sink:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        entry = {
            "ID": uuid.uuid4().hex,
            "From": address(envelope.mail_from),
            "To": [address(rcpt) for rcpt in envelope.rcpt_tos],
            "Subject": str(parsed.get("subject", "")),
            "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "Size": len(envelope.original_content or envelope.content),
        }
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        with lock:
            messages.insert(0, entry)
            bodies[entry["ID"]] = {
                "Text": text.get_content() if text else "",
                "HTML": html.get_content() if html else "",
            }
        print(f"mail: {entry['From']['Address']} -> {', '.join(t['Address'] for t in entry['To'])}: {entry['Subject']}")
        return "250 Message accepted for delivery"


class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/livez":
            body = b"ok\n"
        elif path == "/api/v1/messages":
            with lock:
                body = json.dumps({"total": len(messages), "count": len(messages), "messages": messages}).encode()
        elif path.startswith("/api/v1/message/"):
            ident = path.rsplit("/", 1)[1]
            with lock:
                entry = next((m for m in messages if m["ID"] == ident), None)
                if entry is None:
                    self.send_error(404)
                    return
                body = json.dumps({**entry, **bodies[ident]}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def stop(*_args) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    # PID 1 ignores SIGTERM unless it handles it: stop at once, like Mailpit.
    signal.signal(signal.SIGTERM, stop)
    controller = Controller(Sink(), hostname="0.0.0.0", port=1025)
    controller.start()
    print("mailsink: SMTP on :1025, messages on http://:8025/api/v1/messages")
    try:
        http.server.ThreadingHTTPServer(("0.0.0.0", 8025), Api).serve_forever()
    finally:
        controller.stop()
        sys.stdout.flush()
