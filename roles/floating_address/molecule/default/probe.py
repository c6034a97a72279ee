#!/usr/bin/env python3
"""Probe the floating address every PERIOD seconds around one fault, and say when it answered from whom.

probe.py URL BEFORE AFTER -- FAULT...

For LEAD seconds every probe must be answered by BEFORE (the host's name in the body). Then FAULT (a command,
e.g. `docker exec floating-1 systemctl stop nginx`) starts; probing goes on, bounded by MAX seconds, until AFTER
has answered SETTLE probes in a row (with --hold: until HOLD seconds passed, every answer from BEFORE). Each
probe is a new connection with a TIMEOUT, as a client that retries on its own. Prints one JSON object: the
probes that failed and when (seconds after the fault started), the first answer from AFTER, the answers by
host. Exit 0 when the address moved (or held) as asked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

# Straight to the address, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float) -> str:
    """The name the address answered with, or the error's kind."""
    try:
        with OPENER.open(url, timeout=timeout) as answer:
            return answer.read().decode().strip()
    except Exception as error:
        return f"error: {type(error).__name__}: {getattr(error, 'reason', error)}"


def outage(probes: list[tuple[float, str]], timeout: float) -> float:
    """Seconds from the first failed probe's start to the first answer after the last failed one (a probe that
    timed out counts its whole timeout): how long a client that retries at once saw no answer."""
    failed = [index for index, (_, answer) in enumerate(probes) if answer.startswith("error: ")]
    if not failed:
        return 0.0
    after = probes[failed[-1] + 1][0] if failed[-1] + 1 < len(probes) else probes[failed[-1]][0] + timeout
    return round(after - probes[failed[0]][0], 3)


def run(options: argparse.Namespace) -> dict[str, Any]:
    probes: list[tuple[float, str]] = []
    start = time.monotonic()
    while time.monotonic() - start < options.lead:
        answer = probe(options.url, options.timeout)
        if answer != options.before:
            return {"ok": False, "why": f"before the fault the address answered {answer!r}, not {options.before!r}"}
        time.sleep(options.period)
    fault_start = time.monotonic()
    fault = subprocess.Popen(options.fault, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    fault_took: float | None = None
    streak = 0
    while True:
        sent = time.monotonic()
        answer = probe(options.url, options.timeout)
        at = round(sent - fault_start, 3)
        probes.append((at, answer))
        if fault_took is None and fault.poll() is not None:
            fault_took = round(time.monotonic() - fault_start, 3)
        streak = streak + 1 if answer == options.after else 0
        if options.hold is None and streak >= options.settle:
            break
        if options.hold is not None and at >= options.hold:
            break
        if at >= options.max:
            break
        time.sleep(max(0.0, options.period - (time.monotonic() - sent)))
    output, _ = fault.communicate(timeout=60)
    if fault_took is None:
        fault_took = round(time.monotonic() - fault_start, 3)
    failed = [at for at, answer in probes if answer.startswith("error: ")]
    first_after = next((at for at, answer in probes if answer == options.after), None)
    answers: dict[str, int] = {}
    for _, answer in probes:
        answers[answer] = answers.get(answer, 0) + 1
    if options.hold is not None:
        ok = set(answers) == {options.before}
        why = "" if ok else f"the address did not stay on {options.before} for {options.hold} s"
    else:
        ok = streak >= options.settle
        why = "" if ok else f"{options.after} did not answer {options.settle} probes in a row within {options.max} s"
    return {
        "ok": ok and fault.returncode == 0,
        "why": why or ("" if fault.returncode == 0 else f"the fault command failed ({fault.returncode}): {output}"),
        "fault": options.fault,
        "fault_took_s": fault_took,
        "probes": len(probes),
        "failed": len(failed),
        "first_failed_s": failed[0] if failed else None,
        "last_failed_s": failed[-1] if failed else None,
        "outage_s": outage(probes, options.timeout),
        "first_answer_from_after_s": first_after,
        "answers": answers,
        "errors": sorted({answer for answer in answers if answer.startswith("error: ")}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("fault", nargs="+")
    parser.add_argument("--period", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--lead", type=float, default=0.5)
    parser.add_argument("--max", type=float, default=10.0)
    parser.add_argument("--settle", type=int, default=20)
    parser.add_argument("--hold", type=float, default=None)
    result = run(parser.parse_args())
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
