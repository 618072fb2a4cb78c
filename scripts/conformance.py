#!/usr/bin/env python3
"""Runs scim2-tester against a running scim2ldap and judges the results.

    conformance.py --url http://127.0.0.1:PORT/scim/v2 --token TOKEN \
        --skips scripts/conformance-skips.txt [--http-log FILE]

Prints one line per check result: STATUS, the check's name, and the tester's reason.
A check's name is `[ResourceType/]function[:qualifier]`, where the qualifier tells
apart the results one function returns (the attribute path of a PATCH check, the HTTP
method of a discovery method check, ...). Exits 1 when a result is ERROR or CRITICAL
and its name is not in the skips file, 0 otherwise. With --http-log every request the
tester sent and every answer it got are written to FILE, for the analysis of a failure.

Run by scripts/conformance, inside target/conformance-venv.
"""

import argparse
import fnmatch
import json
import os
import random
import re
import sys
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILED = {Status.ERROR, Status.CRITICAL}


def read_skips(path: str) -> dict[str, str]:
    """Check name (an fnmatch pattern) -> the reason given after '#'."""
    skips: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, _, reason = line.partition("#")
            name = name.strip()
            if name:
                skips[name] = reason.strip()
    return skips


_METHOD = re.compile(r"^(POST|PUT|PATCH|DELETE|GET) ")


def qualifier(result: Any) -> str | None:
    data = result.data
    if isinstance(data, dict) and "urn" in data:
        return str(data["urn"])
    reason = result.reason or ""
    if result.title.endswith("_endpoint_methods"):
        m = _METHOD.match(reason)
        return m.group(1) if m else None
    if result.title in ("access_schema_by_id", "query_resource_type_by_id"):
        m = re.search(r"(?:schema:? |/ResourceTypes/)(\S+?)(?: endpoint)?\.?$", reason)
        return m.group(1) if m else None
    if result.title == "resource_types_schema_validation":
        m = re.match(r"ResourceType '([^']+)'", reason)
        return m.group(1) if m else None
    return None


def name_results(results: list[Any]) -> list[tuple[str, Any]]:
    named: list[tuple[str, Any]] = []
    seen: dict[str, int] = {}
    for r in results:
        base = "/".join(p for p in (r.resource_type, r.title) if p)
        q = qualifier(r)
        if q is None and r.title.endswith("_with_attributes") and (r.reason or "")[:4] in ("GET ", "POST"):
            # One result with `attributes`, then one with `excludedAttributes`.
            q = "excludedAttributes" if seen.get(base + ":attributes") else "attributes"
        name = f"{base}:{q}" if q else base
        # The results of one function that nothing tells apart: number them.
        n = seen.get(name, 0)
        seen[name] = n + 1
        named.append((f"{name}#{n + 1}" if n else name, r))
    return named


class HttpLog:
    """Writes every exchange of the tester with the daemon to a file."""

    def __init__(self, path: str | None):
        self.f = open(path, "w", encoding="utf-8") if path else None
        self.n = 0

    def request(self, req: httpx2.Request) -> None:
        if not self.f:
            return
        self.n += 1
        body = req.content.decode("utf-8", "replace") if req.content else ""
        self.f.write(f"\n>>> #{self.n} {req.method} {req.url}\n{body}\n")

    def response(self, resp: httpx2.Response) -> None:
        if not self.f:
            return
        resp.read()
        rid = resp.headers.get("x-request-id", "")
        self.f.write(f"<<< #{self.n} {resp.status_code} request-id={rid}\n{resp.text}\n")
        self.f.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--skips", required=True)
    ap.add_argument("--http-log")
    ap.add_argument("--json", help="write every result, with its data, to this file")
    args = ap.parse_args()

    # scim2-tester draws attribute values (e.g. emails.type among the canonicalValues) with
    # `random`: a fixed seed makes a run repeatable. SCIM2LDAP_CONFORMANCE_SEED changes it.
    seed = int(os.environ.get("SCIM2LDAP_CONFORMANCE_SEED", "1"))
    random.seed(seed)
    print(f"conformance: random seed {seed} (SCIM2LDAP_CONFORMANCE_SEED)")

    skips = read_skips(args.skips)
    log = HttpLog(args.http_log)
    http = httpx2.Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=30,
        event_hooks={"request": [log.request], "response": [log.response]},
    )
    client = SyncSCIMClient(http)
    results = check_server(client)
    named = name_results(results)

    failed, allowed, used = [], [], set()
    counts: dict[str, int] = {}
    for name, r in named:
        pattern = next((p for p in skips if fnmatch.fnmatchcase(name, p)), None)
        status = r.status.name
        if r.status in FAILED:
            if pattern is not None:
                used.add(pattern)
                allowed.append(name)
                status = "ALLOWED"
            else:
                failed.append(name)
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        reason = (r.reason or "").replace("\n", " | ")
        if status == "ALLOWED":
            reason = f"[{r.status.name}, in the skips file: {skips[pattern]}] {reason}"
        print(f"{status:<9} {name}: {reason}")

    for pattern in skips:
        if pattern not in used:
            print(f"note: skip entry '{pattern}' matched no failing check", file=sys.stderr)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                [
                    {
                        "name": n,
                        "status": r.status.name,
                        "reason": r.reason,
                        "data": repr(r.data),
                    }
                    for n, r in named
                ],
                f,
                indent=1,
            )

    summary = ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    print(f"\nscim2-tester: {len(named)} results: {summary}; {len(allowed)} failures allowed by the skips file")
    if failed:
        print("failing checks not in the skips file:")
        for n in failed:
            print(f"  {n}")
    skipped = counts.get("SKIPPED", 0) + len(allowed)
    passed = len(named) - len(failed) - skipped
    print(f"conformance: {passed} passed, {len(failed)} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
