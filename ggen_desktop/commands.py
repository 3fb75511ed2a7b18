"""The one-shot commands (`search`, `publish`, `fetch`) run against a started App, writing lines to an Output.

The same code runs them in a short-lived node of the command's own and inside a running node of
the same data folder that received them on its control endpoint (control.py), so the printed lines
and the exit codes are the same either way. A request is a JSON-ready dict (the command line
builds it, the endpoint carries it) and is checked field by field here, whoever sent it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ggen_desktop.core.package import Package, PackageId, Version
from ggen_desktop.core.query import Query

if TYPE_CHECKING:
    from ggen_desktop.app import App, Transfer
    from ggen_desktop.core.search import QueryTrace, SearchHit

MAX_LIMIT = 1000  # results one `search` prints, over as many pages of the same search as it takes
MAX_TIMEOUT_S = 3600.0
PROGRESS_EVERY_S = 0.5

Message = dict[str, Any]


class CommandError(Exception):
    """A failure to report in one sentence, without a traceback."""


class Output(Protocol):
    """Where a command's lines go: the terminal, or the control connection of the command that asked."""

    async def out(self, line: str) -> None: ...

    async def err(self, line: str) -> None: ...

    async def progress(self, text: str) -> None:
        """A transfer's progress, shown on one line that each call overwrites (on a terminal only)."""


def expected_errors() -> tuple[type[Exception], ...]:
    """Failures whose message is the whole story for the user: printed as one sentence, no traceback."""
    from ggen_desktop.app import IdentityError, NodeError, StoreError, TransferError
    from ggen_desktop.core.manifest import ManifestError
    from ggen_desktop.core.package import PackageError
    from ggen_desktop.core.query import QueryError
    from ggen_desktop.core.record import RecordError
    from ggen_desktop.core.settings import SettingsError

    return (CommandError, ManifestError, PackageError, QueryError, RecordError, SettingsError, NodeError,
            StoreError, IdentityError, TransferError, OSError)


async def run(app: App, request: Message, output: Output) -> Message:
    """Run one command; returns the final message (`{"exit": 0}`, with `package` for `add-archive`).
    Expected failures raise (see `expected_errors`), a malformed request raises CommandError."""
    command = request.get("command")
    if command == "search":
        return await search(app, request, output)
    if command == "publish":
        return await publish(app, request, output)
    if command == "fetch":
        return await fetch(app, request, output)
    if command == "add-archive":
        return await add_archive(app, request)
    raise CommandError(f"unknown command {command!r}; a node serves search, publish, add-archive and fetch")


# -- request fields ----------------------------------------------------------------
_REQUIRED = object()


def _field(request: Message, name: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
    """A request field of the given type (a bool is never taken for a number); `default` when absent."""
    if name not in request:
        if default is _REQUIRED:
            raise CommandError(f"the {request.get('command')} request has no '{name}'")
        return default
    value = request[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise CommandError(f"the {request.get('command')} request's '{name}' is not "
                           f"{' or '.join(k.__name__ for k in kinds)}: {value!r}")
    return value


def _texts(request: Message, name: str) -> tuple[str, ...]:
    values = _field(request, name, list, [])
    if not all(isinstance(v, str) for v in values):
        raise CommandError(f"the {request.get('command')} request's '{name}' is not a list of text")
    return tuple(values)


def _path(request: Message, name: str) -> Path:
    path = Path(_field(request, name, str))
    if not path.is_absolute():
        raise CommandError(f"the {request.get('command')} request's '{name}' is not an absolute path: {path}")
    return path


# -- search ------------------------------------------------------------------------
async def search(app: App, request: Message, output: Output) -> Message:
    """Print results as they arrive, page after page of the same search up to `limit`, then the summary."""
    from ggen_desktop.core.search import QueryStatus

    query = Query(text=_field(request, "text", str), categories=_texts(request, "categories"),
                  tags=_texts(request, "tags"))
    limit = _field(request, "limit", int, 20)
    timeout = float(_field(request, "timeout", (int, float), 10.0))
    as_json = _field(request, "json", bool, False)
    if not 1 <= limit <= MAX_LIMIT:
        raise CommandError(f"limit {limit} is not from 1 to {MAX_LIMIT}")
    if not 0 < timeout <= MAX_TIMEOUT_S:
        raise CommandError(f"timeout {timeout} is not over 0 and at most {MAX_TIMEOUT_S:.0f} s")
    printed = unprinted = 0
    app.node.remember_query(query)
    page = min(limit, app.node.query_config.max_results)
    handle = app.node.search(query, replace(app.node.query_config, default_timeout=timeout, max_results=page))
    try:
        while True:
            async for event in handle:
                if not event.is_new:
                    continue
                if printed < limit:
                    await output.out(_result_line(event.hit, as_json))
                    printed += 1
                else:
                    unprinted += 1
            trace = await handle.wait()
            if printed >= limit or not trace.more or trace.status is not QueryStatus.FINISHED:
                break
            handle = handle.more()  # the same search goes on: its lookup, its peers, their page cursors
    finally:
        handle.cancel()  # a client that left (Ctrl+C) ends its search in the running node too
    if trace.suggestions:
        await output.err(f"Did you mean {' or '.join(trace.suggestions)}?")
    if as_json:
        await output.err(json.dumps(_summary(trace, printed, trace.more or unprinted > 0)))
    else:
        await output.out(trace.summary())
    return {"exit": 0}


def _result_line(hit: SearchHit, as_json: bool) -> str:
    record = hit.record
    package = record.package
    if as_json:
        return json.dumps({"id": str(package.id), "version": str(package.version), "publisher": record.fingerprint,
                           "title": package.metadata.title, "description": package.metadata.description,
                           "sources": sorted(hit.sources), "known": hit.is_known})
    return f"{package.id} {package.version}  {package.metadata.title}  [{record.fingerprint}]"


def _summary(trace: QueryTrace, printed: int, more: bool) -> dict[str, Any]:
    """The last line on stderr of `search --json`: how the search went, for scripts."""
    counts = trace.peer_counts()
    return {
        "status": trace.status.value, "results": printed, "peers_asked": counts.asked,
        "peers_answered": counts.answered, "more": more, "elapsed_ms": round(trace.searching_ms(), 1),
        "ttfr_ms": None if trace.first_result_ms is None else round(trace.first_result_ms, 1),
        "keyword": trace.keyword, "reason": trace.reason, "suggestions": trace.suggestions,
        "known": trace.known_results, "records_received": trace.received, "records_verified": trace.verified,
    }


# -- publish -----------------------------------------------------------------------
async def add_archive(app: App, request: Message) -> Message:
    """Keep an archive in the data folder's content store (seeded now by a running node) and answer with
    the package naming it, for the command to sign: the publisher key never leaves the command."""
    package = Package.from_dict(_field(request, "package", dict))
    named = await app.add_archive(package, _path(request, "archive"))
    return {"exit": 0, "package": named.to_dict()}


async def publish(app: App, request: Message, output: Output) -> Message:
    """Store a record signed by the command on the network and keep it among the folder's packages."""
    from ggen_desktop.core.record import decode_and_verify

    record = decode_and_verify(_field(request, "record", str).encode("utf-8"))
    report = await app.publish(record)
    package = record.package
    await output.out(f"published {package.id} {package.version} by {record.fingerprint}: {report.replicas} "
                     f"replicas acknowledged, {report.keys} keys, {report.keyword_replicas} keyword acks")
    for copies in report.per_key:
        await output.out(f"  {copies.describe()}")
    refused = report.refused_keywords()
    if refused:
        words = ", ".join(f"'{k.keyword}'" for k in refused)
        await output.err(f"ggen-desktop: warning: peers refused the keyword copies for {words} because those keys "
                         "are full; a search by those words may not find this package")
    return {"exit": 0}


# -- fetch -------------------------------------------------------------------------
async def fetch(app: App, request: Message, output: Output) -> Message:
    """Find the package, download its archive from the nodes that seed it, check it, copy it out; print the path."""
    package_id = str(PackageId.parse(_field(request, "package", str)))
    wanted = _field(request, "version", str, "")
    version = str(Version.parse(wanted)) if wanted else None
    publisher = _field(request, "publisher", str, "") or None
    destination = _path(request, "output")
    record = await app.node.get_package(package_id, publisher, version)
    if record is None:
        which = f"{package_id} {version}" if version else package_id
        by = f" by publisher {publisher}" if publisher else ""
        raise CommandError(f"no package {which}{by} was found on the network")
    package = record.package
    if not package.has_archive:
        raise CommandError(f"{package.id} {package.version} was published without a shared archive, "
                           "so there is nothing to download")
    watched: list[Transfer] = []
    show = _field(request, "progress", bool, False)
    display = asyncio.ensure_future(_show_progress(watched, output)) if show else None
    try:
        path = await app.fetch(package, destination, watched.append)
    finally:
        if display is not None:
            display.cancel()
            await asyncio.gather(display, return_exceptions=True)
            await output.err("")
    await output.out(str(path.resolve()))
    return {"exit": 0}


async def _show_progress(watched: list[Transfer], output: Output) -> None:
    """The transfer's progress, twice a second, until cancelled."""
    while True:
        if watched:
            status = watched[0].status()
            await output.progress(f"{status.state.value}: {status.progress:6.1%} of {status.size:,} bytes, "
                                  f"{status.download_rate / 1e6:.1f} MB/s, {status.peers} peers   ")
        await asyncio.sleep(PROGRESS_EVERY_S)
