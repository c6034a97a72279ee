"""Move a DigitalOcean reserved IP to this droplet: keepalived's notify_master on a balancer that became MASTER.

    /usr/bin/python3 /usr/local/sbin/highload-reserved-ip-assign --address 192.0.2.100 [--syslog]

Installed by the role highload.cluster.floating_address as /usr/local/sbin/highload-reserved-ip-assign (run by
the interpreter named, so keepalived's script security checks a root-owned interpreter and the file needs no
shebang); Python's standard library only. What it does, once per call:

1. This droplet's id from the metadata service (GET http://169.254.169.254/metadata/v1/id), or --droplet-id.
2. Look: GET /v2/reserved_ips/ADDRESS. Already assigned to this droplet and not locked: success, nothing sent.
   Locked (an action in progress, this host's own earlier one or a peer's): wait until it is not, look again.
3. Act: POST /v2/reserved_ips/ADDRESS/actions {"type": "assign", "droplet_id": ID}, then look until the
   reserved IP is unlocked and on this droplet.

Retries are bounded (--deadline seconds over everything, --attempts assign requests at most) and logged. Reads
(the metadata, GET) are retried after a reset, a timeout, a 5xx or a 429. An assign is sent again only when it
provably did nothing: a 429 (rate limited: after the wait the API asks for) or a 422 (another action in progress:
look, then decide). An assign whose answer is lost (a reset, a timeout, a 5xx: DigitalOcean may have acted) is
never sent again blindly: the script looks first, and the reserved IP found on this droplet is success. A 401, 403
or 404 ends the run at once (a wrong token or address; retrying cannot help).

The token is read from --token-file (default /etc/keepalived/highload-do-token, owned by the user running the
script and readable by nobody else, or the script refuses it): never an argument or an environment variable, so
it is in no process list; it is masked in everything logged, even when an error page repeats it or a piece of
it. Logs go to stderr and, with --syslog, to syslog (journalctl -t highload-reserved-ip), where keepalived's
notify scripts are seen (keepalived discards their output).

Two runs never overlap (a lock on --lock-file): a run that starts while another is at work waits for it, then
finds the reserved IP where that one left it.

With --if-held-here (a systemd timer runs it so every few seconds) it acts only on the host that holds the
address locally (keepalived's MASTER keeps it on lo), and logs only a move or a failure: notify_master runs once
per transition, and a split brain that heals (both MASTER for a while, the second assigned the reserved IP last
and goes BACKUP without the first changing state) or an assign that gave up would leave the reserved IP on the
wrong droplet until the next failover; the check puts it back within its interval. It remembers when it last put
it back (--state-file, root-only under /run): when the reserved IP has left again within --hold-off seconds of
that, another MASTER is taking it (a split brain: VRRP lost between the balancers, each MASTER's check taking it
back in turn, the reserved IP moving every check). The check then leaves it where it is, logs so ("two MASTERs?")
and exits 1, until the hold-off has passed; then it may take it back once more. A run without --if-held-here
(keepalived's notify_master: a real transition to MASTER) always assigns.

Exit status: 0 the reserved IP is on this droplet, 1 it could not be put there or the check held off (the log says
why), 2 bad usage.
--api and --metadata point elsewhere (a test's fake API); --droplet-id skips the metadata service.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import json
import logging
import logging.handlers
import os
import re
import socket
import stat
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

API = "https://api.digitalocean.com/v2/"
METADATA = "http://169.254.169.254/metadata/v1/id"
TOKEN_FILE = "/etc/keepalived/highload-do-token"  # noqa: S105 - a path, not a secret
LOCK_FILE = "/run/lock/highload-reserved-ip.lock"
STATE_FILE = "/run/highload-floating-address/last-reclaim"
SYSLOG_TAG = "highload-reserved-ip"
REQUEST_TIMEOUT = 10.0
POLL_FIRST, POLL_MAX = 0.5, 5.0
MIN_TOKEN_PREFIX = 8
MASK = "********"
BEARER_RE = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
FINAL = (401, 403, 404)  # the token or the address is wrong: no retry helps

log = logging.getLogger(SYSLOG_TAG)


class GiveUp(Exception):
    """The reserved IP cannot be put on this droplet in this run; the message says why."""


class HoldOff(Exception):
    """The periodic check leaves the reserved IP where it is this time (another MASTER took it back); says why."""


class Answer:
    """One HTTP exchange: status 0 when no answer came (reset, timeout, refused), with the error in `reason`."""

    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, reason: str = "", text: str = ""
    ) -> None:
        self.status = status
        self.body = body
        self.text = text
        self.headers = headers or {}
        self.reason = reason

    @property
    def lost(self) -> bool:
        """No usable answer: the server may or may not have acted."""
        return self.status == 0 or self.status >= 500

    def wait_asked(self, now: float) -> float:
        """Seconds a 429 asks to wait (Retry-After, else ratelimit-reset), 1 when it says nothing."""
        for name, absolute in (("retry-after", False), ("ratelimit-reset", True)):
            value = self.headers.get(name, "").strip()
            if value.isdigit():
                return max(0.0, float(value) - now) if absolute else float(value)
        return 1.0


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def sleep(self, seconds: float, what: str) -> None:
        if self.left() <= 0:
            raise GiveUp(f"gave up after {int(self.seconds)}s (--deadline) waiting for {what}")
        time.sleep(max(0.0, min(seconds, self.left())))


def mask(text: str, token: str) -> str:
    """The text with the token, any piece of it of MIN_TOKEN_PREFIX characters or more (its start, or the middle
    or end of a header line a page wrapped), and whatever follows "Bearer" replaced by a mask."""
    text = BEARER_RE.sub(lambda match: match.group(1) + MASK, text)
    for length in range(len(token), MIN_TOKEN_PREFIX - 1, -1):
        for start in range(len(token) - length + 1):
            if token[start : start + length] in text:
                text = text.replace(token[start : start + length], MASK)
    return text


def read_token(path: str) -> str:
    """The token from a file that only its owner, the user running this, can read."""
    try:
        info = os.stat(path)
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as error:
        raise GiveUp(f"cannot read the token file {path}: {error.strerror}") from None
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise GiveUp(
            f"the token file {path} must belong to uid {os.geteuid()} and be readable by nobody else (mode 0600); "
            f"it is uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):04o}"
        )
    if not token or any(ord(char) < 32 or ord(char) == 127 for char in token):
        raise GiveUp(f"the token file {path} holds no token (empty, or a control character inside)")
    return token


class Client:
    """The few calls this script makes, each logged (never the token)."""

    def __init__(self, api: str, token: str, deadline: Deadline) -> None:
        self.api = api if api.endswith("/") else api + "/"
        self.token = token
        self.deadline = deadline

    def exchange(self, method: str, url: str, body: Any = None, auth: bool = True) -> Answer:
        headers = {"Accept": "application/json", "User-Agent": "highload-reserved-ip-assign"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - https/http only
        timeout = max(0.5, min(REQUEST_TIMEOUT, self.deadline.left()))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return self.answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            try:
                raw = error.read()
            except (OSError, ValueError, http.client.HTTPException) as cut:  # the error page cut: no usable answer
                return Answer(0, reason=f"{error.code}, then {type(cut).__name__}: {mask(str(cut), self.token)}")
            return self.answer(error.code, raw, error.headers)
        except (OSError, ValueError, http.client.HTTPException) as error:  # reset, refused, timeout, cut
            return Answer(0, reason=f"{type(error).__name__}: {mask(str(error), self.token)}")

    def answer(self, status: int, raw: bytes, headers: Any) -> Answer:
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        reason = ""
        if status >= 300:
            if isinstance(body, dict) and body.get("message"):
                reason = "{}: {}".format(body.get("id", "error"), body["message"])
            else:  # an error page of a proxy: masked first, then cut short
                reason = mask(" ".join(text.split()), self.token)[:400]
        lowered = {str(key).lower(): str(value) for key, value in (headers or {}).items()}
        return Answer(status, body, lowered, mask(reason, self.token), text)

    def read(self, url: str, what: str, auth: bool = True) -> Answer:
        """GET, again after a lost answer or a 429, until an answer or the deadline."""
        intervals = backoff()
        attempt = 0
        while True:
            attempt += 1
            answer = self.exchange("GET", url, auth=auth)
            if not answer.lost and answer.status != 429:
                return answer
            wait = answer.wait_asked(time.time()) if answer.status == 429 else next(intervals)
            log.warning(
                "reading %s: attempt %d got %s; again in %.1fs", what, attempt, describe(answer), min(wait, 60.0)
            )
            self.deadline.sleep(min(wait, 60.0), what)

    def reserved_ip(self, address: str) -> dict[str, Any]:
        answer = self.read(self.api + "reserved_ips/" + address, f"reserved IP {address}")
        if answer.status != 200 or not isinstance(answer.body, dict) or "reserved_ip" not in answer.body:
            raise GiveUp(f"reading reserved IP {address}: {describe(answer)}")
        return answer.body["reserved_ip"]


def backoff() -> Iterator[float]:
    interval = POLL_FIRST
    while True:
        yield interval
        interval = min(interval * 1.5, POLL_MAX)


def describe(answer: Answer) -> str:
    if answer.status == 0:
        return f"no answer ({answer.reason})"
    return f"{answer.status} {answer.reason}" if answer.reason else str(answer.status)


def holder(record: dict[str, Any]) -> int | None:
    return ((record.get("droplet") or {}).get("id")) if record else None


def droplet_id_from(client: Client, metadata: str) -> int:
    answer = client.read(metadata, "this droplet's id (metadata service)", auth=False)
    text = answer.text.strip()
    if answer.status != 200 or not text.isdigit():
        raise GiveUp(f"the metadata service {metadata} answered {describe(answer) or text}, not a droplet id")
    return int(text)


def settled(client: Client, address: str) -> dict[str, Any]:
    """The reserved IP once no action is in progress on it."""
    intervals = backoff()
    while True:
        record = client.reserved_ip(address)
        if not record.get("locked"):
            return record
        wait = next(intervals)
        log.info("reserved IP %s has an action in progress (on droplet %s now); looking again in %.1fs",
                 address, holder(record), wait)  # fmt: skip
        client.deadline.sleep(wait, f"the action in progress on reserved IP {address}")


def assign(client: Client, address: str, droplet_id: int, attempts: int, hold_off: Reclaims | None = None) -> bool:
    """Put the reserved IP on the droplet; True when this run sent an assign, False when it was there already.
    With hold_off (the periodic check), it may refuse (HoldOff) before the first request is sent."""
    sent = 0
    while True:
        record = settled(client, address)
        if holder(record) == droplet_id:
            if sent:
                log.info("reserved IP %s is on this droplet (%d) now", address, droplet_id)
            else:
                log.info("reserved IP %s is on this droplet (%d) already: nothing to do", address, droplet_id)
            return sent > 0
        if sent >= attempts:
            raise GiveUp(
                f"reserved IP {address} is still on droplet {holder(record)} after {sent} assign request(s) "
                "(--attempts)"
            )
        if hold_off is not None and not sent:
            hold_off.refuse_if_undone(holder(record))
        sent += 1
        log.info("assigning reserved IP %s to this droplet (%d), from droplet %s: request %d of at most %d",
                 address, droplet_id, holder(record), sent, attempts)  # fmt: skip
        url = client.api + f"reserved_ips/{address}/actions"
        answer = client.exchange("POST", url, {"type": "assign", "droplet_id": droplet_id})
        if answer.status in (200, 201):
            continue  # look until it is done
        if answer.lost:
            log.warning("the assign's answer was lost (%s): DigitalOcean may have acted; looking before acting again",
                        describe(answer))  # fmt: skip
            continue
        if answer.status == 429:
            wait = answer.wait_asked(time.time())
            log.warning("the assign was refused (429, rate limited: nothing done); again in %.1fs", wait)
            client.deadline.sleep(min(wait, 60.0), "the rate limit")
            continue
        if answer.status == 422:  # another action in progress (a peer's): nothing done by this request
            log.warning("the assign was refused (%s); looking again", describe(answer))
            client.deadline.sleep(next(backoff()), f"reserved IP {address}")
            continue
        raise GiveUp(f"the assign of reserved IP {address} was refused: {describe(answer)}")


def since_boot() -> float:
    """Seconds since boot (suspend included): a clock no time step moves, valid as long as /run's files are."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class Reclaims:
    """When the periodic check last took the reserved IP back, in a root-only file under /run (gone at a reboot)."""

    def __init__(self, path: str, address: str, seconds: float) -> None:
        self.path = path
        self.address = address
        self.seconds = seconds

    def last(self) -> float | None:
        """Seconds since boot at the last reclaim of this address, None when there was none (or no usable record)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                record = json.load(handle)
            reclaimed = float(record["reclaimed"])
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return reclaimed if record.get("address") == self.address and reclaimed <= since_boot() else None

    def refuse_if_undone(self, now_on: int | None) -> None:
        """Raise HoldOff when this check took the reserved IP back less than the hold-off ago: it left again."""
        last = self.last() if self.seconds > 0 else None
        if last is None:
            return
        age = since_boot() - last
        if age < self.seconds:
            raise HoldOff(
                f"reserved IP {self.address} left again within {int(age)} s after a reclaim "
                f"(hold-off {self.seconds:g} s), to droplet {now_on}: two MASTERs? not taking it back; check VRRP "
                f"between the balancers (this check may take it back in {int(self.seconds - age) + 1} s)"
            )

    def record(self) -> None:
        """Remember this reclaim: a file only root (the owner) can read, in a directory only it can enter."""
        folder = os.path.dirname(self.path) or "."
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            partial = f"{self.path}.{os.getpid()}"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"address": self.address, "reclaimed": since_boot(), "at": time.strftime("%FT%T%z")}, handle)
            os.replace(partial, self.path)
        except OSError as error:  # the reserved IP is here all the same; the next undo is not held off
            log.warning("could not remember this reclaim in %s: %s", self.path, error.strerror)


@contextlib.contextmanager
def exclusive(path: str, deadline: Deadline) -> Iterator[None]:
    """One run at a time: wait for a run at work (a flapping MASTER, BACKUP, MASTER starts several)."""
    with open(path, "a", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                deadline.sleep(0.2, f"the run before this one (lock {path})")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--address", required=True, help="the reserved IP")
    parser.add_argument("--token-file", default=TOKEN_FILE)
    parser.add_argument("--api", default=API, help="the API's base URL (default %(default)s)")
    parser.add_argument("--metadata", default=METADATA, help="where this droplet's id is read")
    parser.add_argument("--droplet-id", type=int, help="this droplet's id, instead of asking the metadata service")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds for everything (default 120)")
    parser.add_argument("--attempts", type=int, default=3, help="assign requests at most (default 3)")
    parser.add_argument("--lock-file", default=LOCK_FILE)
    parser.add_argument("--state-file", default=STATE_FILE, help="with --if-held-here: when it last took it back")
    parser.add_argument(
        "--hold-off",
        type=float,
        default=30.0,
        help="with --if-held-here: seconds after taking it back during which it leaves a reserved IP that left "
        "again where it is (another MASTER took it); 0 never holds off (default 30)",
    )
    parser.add_argument("--syslog", action="store_true", help="log to syslog too")
    parser.add_argument(
        "--if-held-here",
        action="store_true",
        help="act only where the address is local (the MASTER keeps it on lo), quietly: the periodic check",
    )
    args = parser.parse_args(argv)
    if (
        not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", args.address)
        or args.attempts < 1
        or args.deadline <= 0
        or args.hold_off < 0
    ):
        parser.error(
            "--address takes an IPv4 address, --attempts a positive count, --deadline positive seconds, "
            "--hold-off seconds (0 or more)"
        )
    return args


def setup_logging(to_syslog: bool) -> None:
    log.setLevel(logging.INFO)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(asctime)s " + SYSLOG_TAG + ": %(message)s"))
    log.addHandler(stream)
    if to_syslog and os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler(address="/dev/log")
        handler.setFormatter(logging.Formatter(SYSLOG_TAG + ": %(message)s"))
        log.addHandler(handler)


def held_here(address: str) -> bool:
    """Is the address one of this host's own (keepalived's MASTER keeps it on lo)? Only then can it be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    setup_logging(args.syslog)
    if args.if_held_here:
        if not held_here(args.address):
            return 0  # not the MASTER: nothing to check, nothing logged
        log.setLevel(logging.WARNING)  # a check every few seconds: only what it moved, or could not, is logged
    deadline = Deadline(args.deadline)
    started = time.monotonic()
    try:
        token = read_token(args.token_file)
        client = Client(args.api, token, deadline)
        with exclusive(args.lock_file, deadline):
            droplet_id = args.droplet_id if args.droplet_id is not None else droplet_id_from(client, args.metadata)
            reclaims = Reclaims(args.state_file, args.address, args.hold_off) if args.if_held_here else None
            if assign(client, args.address, droplet_id, args.attempts, reclaims) and reclaims is not None:
                reclaims.record()
                log.warning("reserved IP %s was elsewhere while this host is MASTER: moved back here", args.address)
    except HoldOff as error:
        log.error("%s", error)
        return 1
    except GiveUp as error:
        log.error("reserved IP %s NOT moved to this droplet: %s", args.address, error)
        return 1
    log.info("done in %.1fs", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
