"""Local SMTP catcher: an aiosmtpd server on 127.0.0.1 that saves each message it receives as one .eml file.

    python -m local_stack.mail --port 1025 --out .sparkify/mail [--fd N]

The stack runs it (``MailCatcher``) so the local Airflow's alerts arrive without any mail account;
``Mailbox`` lists, reads and clears what arrived (``./sparkify alerts``, the tests). File names
start with the UTC time of arrival, so they sort oldest first. With --fd the server takes that
inherited socket, already bound and listening (``MailCatcher`` binds it before spawning the server).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import itertools
import logging
import re
import signal
import smtplib
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from local_stack import timeouts
from local_stack.process import ChildServer

STAMP = "%Y%m%dT%H%M%S.%fZ"

log = logging.getLogger("local_stack.mail")


class MailCatcher(ChildServer):
    """The SMTP catcher on host:port, saving into mail_dir, run as `python -m local_stack.mail` in its own session."""

    what = "the SMTP catcher"

    def __init__(self, port: int, mail_dir: Path, log_file: Path, host: str = "127.0.0.1") -> None:
        super().__init__(port, log_file, host)
        self.mail_dir = Path(mail_dir)

    def command(self, fd: int | None = None) -> list[str]:
        return [sys.executable, "-m", "local_stack.mail", "--host", self.host, "--port", str(self.port),
                "--out", str(self.mail_dir.resolve()), *(["--fd", str(fd)] if fd is not None else [])]

    def answers(self) -> bool:
        """True if an SMTP server greets on host:port."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=timeouts.PROBE) as smtp:
                return smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False


@dataclass(frozen=True)
class Mail:
    """One saved message."""

    path: Path
    received: datetime
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["subject"] or "(no subject)")

    def text(self) -> str:
        """The body as text: the text/plain part, else the text/html part without its markup."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content().replace("\r\n", "\n")  # as sent over SMTP
        return _html_text(content) if part.get_content_type() == "text/html" else content

    def show(self) -> str:
        headers = "".join(f"{name}: {self.message[name]}\n" for name in ("From", "To", "Date", "Subject") if self.message[name])
        return f"{headers}\n{self.text()}"


class Mailbox:
    """The messages saved in folder, newest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"), reverse=True) if self.folder.is_dir() else []

    def messages(self) -> list[Mail]:
        mails = []
        for path in self._files():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            received = datetime.strptime(path.name.split("-", 1)[0], STAMP).replace(tzinfo=timezone.utc)
            mails.append(Mail(path, received, message))
        return mails

    def clear(self) -> int:
        """Delete every saved message; returns how many."""
        files = self._files()
        for path in files:
            path.unlink()
        return len(files)


class _TextOfHtml(HTMLParser):
    BREAKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(content: str) -> str:
    parser = _TextOfHtml()
    parser.feed(content)
    return re.sub(r"\n{3,}", "\n\n", html.unescape("".join(parser.parts))).strip() + "\n"


# --- the server process ------------------------------------------------------------------------------


class SaveToFolder:
    """aiosmtpd handler: each message's bytes, as received, to folder/<UTC time>-<n>.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        name = f"{datetime.now(timezone.utc).strftime(STAMP)}-{next(self.count):05d}.eml"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.replace(self.folder / name)  # complete files only, for readers
        log.info("saved %s from %s to %s", name, envelope.mail_from, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _controller(handler: SaveToFolder, host: str, port: int, fd: int | None):
    """aiosmtpd's threaded Controller on host:port, or on the inherited listening socket fd.

    Its ready_timeout (aiosmtpd's default: 5 s, for the server thread to listen and answer a first
    connection) is timeouts.SERVER_START: on a busy machine 5 s is not enough.
    """
    from aiosmtpd.controller import Controller

    class OnSocket(Controller):
        def _create_server(self):
            return self.loop.create_server(self._factory_invoker, sock=listener, ssl=self.ssl_context)

    if fd is None:
        return Controller(handler, hostname=host, port=port, ready_timeout=timeouts.SERVER_START)
    listener = socket.socket(fileno=fd)
    host, port = listener.getsockname()[:2]
    return OnSocket(handler, hostname=host, port=port, ready_timeout=timeouts.SERVER_START)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--fd", type=int, help="serve on this inherited listening socket (bound to host:port)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .eml files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter

    args.out.mkdir(parents=True, exist_ok=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # before the server thread: sigwait gets them
    controller = _controller(SaveToFolder(args.out), args.host, args.port, args.fd)
    controller.start()
    log.info("SMTP catcher on %s:%d saving to %s", args.host, args.port, args.out)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
