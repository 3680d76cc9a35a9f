"""In-memory stand-in for the Hugging Face Hub HTTP API, for tests (standard library only).

huggingface_hub 2.4, transformers 5.24 and datasets 5.2 talk to it when `HF_ENDPOINT` points here and
`HF_HUB_DISABLE_XET=1` (otherwise every LFS upload goes through the Xet protocol, which is not implemented).
Both variables are read when huggingface_hub is imported, so run the clients in a subprocess whose environment
comes from `hub_environment(url, hf_home)`.

Endpoints (`{repo}` is `namespace/name`, `{type}` is `models` or `datasets`, `{prefix}` is empty for models and
`datasets/` for datasets; `{rev}` is `main` or a commit sha, URL-encoded as the clients send it):

    GET  /api/whoami-v2                               a dummy user with a write token
    POST /api/validate-yaml                           always valid (called before a README.md is committed)
    POST /api/repos/create                            409 when the repo exists (the client handles exist_ok)
    GET  /api/{type}/{repo}[/revision/{rev}]          repo info: id, sha, siblings (rfilename, size, blobId, lfs)
    GET  /api/{type}/{repo}/tree/{rev}[/{path}]       files and directories, `?recursive=true` for all levels
    POST /api/{type}/{repo}/paths-info/{rev}          the same entries for the form field `paths`
    POST /api/{type}/{repo}/preupload/{rev}           uploadMode "lfs" for binary-ish suffixes, else "regular"
    POST /api/{type}/{repo}/commit/{rev}              NDJSON: header, file, lfsFile, deletedFile, deletedFolder
    POST /{prefix}{repo}.git/info/lfs/objects/batch   LFS batch, "basic" transfer: one PUT href per object
    PUT  /lfs-objects/{sha256}                        stores an LFS object whose body matches its sha256
    HEAD /{prefix}{repo}/resolve/{rev}/{path}         X-Repo-Commit, ETag, Content-Length
    GET  /{prefix}{repo}/resolve/{rev}/{path}         the bytes (honours `Range: bytes=a-b`)

Every repo keeps its list of commits, so an old sha still resolves; only the branch `main` exists (no PRs, no
other branches or tags), and a commit whose `parentCommit` is not the head gets 412. A repo created without a
namespace goes under the user `dummy`. A request whose bearer token is not one of `TOKENS` (`hf_dummy`,
the one `hub_environment` sets) gets 401, as the Hub answers an invalid token; requests without one are
anonymous and allowed. Errors carry `X-Error-Code` (RepoNotFound, RevisionNotFound,
EntryNotFound), which huggingface_hub turns into its exception classes. A request no route knows is answered 404
and logged on stderr, so a new client call shows up at once.

Run `python tests/hub_server.py --port 8080` to serve in the foreground (prints the URL first).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER_NAME = "dummy"
TOKENS = frozenset({"hf_dummy"})  # the tokens the server accepts
# Suffixes that the Hub's default .gitattributes stores with LFS; every other file is committed inline.
LFS_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".npy", ".npz", ".pkl",
    ".parquet", ".arrow", ".png", ".jpg", ".jpeg", ".wav", ".mp3", ".mp4", ".zip", ".gz", ".tar",
)  # fmt: skip
API_REPO_TYPES = {"models": "model", "datasets": "dataset"}
URL_PREFIXES = {"model": "", "dataset": "datasets/"}


class HubError(Exception):
    """An error answer: HTTP status, the `X-Error-Code` header (may be empty) and a message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class StoredFile:
    """One file of a commit; `lfs` says whether it was committed as an LFS pointer."""

    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.content)}\n".encode()

    @property
    def blob_id(self) -> str:
        # Git's blob id of what git stores: the pointer for an LFS file, the content otherwise.
        data = self.pointer if self.lfs else self.content
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    @property
    def etag(self) -> str:
        # The Hub's ETag is the sha256 for LFS files and the git blob id otherwise; the cache names blobs by it.
        return self.sha256 if self.lfs else self.blob_id


@dataclass
class Commit:
    """One commit: its sha, summary, ISO date, and every file of the repo at that point (a snapshot, not a diff)."""

    sha: str
    title: str
    date: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    """A model or dataset repo: its commits, oldest first; the last one is the head of `main`."""

    repo_type: str
    repo_id: str
    commits: list[Commit] = field(default_factory=list)

    def resolve(self, revision: str) -> Commit:
        """The commit that `revision` (branch `main`, a full sha or a 7+ character sha prefix) names."""
        if revision == "main":
            return self.commits[-1]
        if len(revision) >= 7:
            for commit in reversed(self.commits):
                if commit.sha.startswith(revision):
                    return commit
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    def add_commit(self, title: str, files: dict[str, StoredFile]) -> Commit:
        parent = self.commits[-1].sha if self.commits else ""
        listing = "".join(f"{path}:{stored.blob_id}\n" for path, stored in sorted(files.items()))
        key = f"{self.repo_type}/{self.repo_id}\n{len(self.commits)}\n{parent}\n{title}\n{listing}"
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        commit = Commit(hashlib.sha1(key.encode()).hexdigest(), title, date, files)
        self.commits.append(commit)
        return commit


def _tree_entry(path: str, stored: StoredFile | None, commit: Commit) -> dict:
    """A `/tree` or `/paths-info` entry: a file (`stored` given) or a directory."""
    if stored is None:
        # Directories have no stored object; any stable 40-hex id serves as their tree id.
        tree_id = hashlib.sha1(f"{commit.sha}:{path}".encode()).hexdigest()
        return {"type": "directory", "oid": tree_id, "size": 0, "path": path}
    entry = {"type": "file", "oid": stored.blob_id, "size": len(stored.content), "path": path}
    if stored.lfs:
        entry["lfs"] = {"oid": stored.sha256, "size": len(stored.content), "pointerSize": len(stored.pointer)}
    return entry


def _directories(files: dict[str, StoredFile]) -> set[str]:
    """Every folder that holds a file at some depth: "a/b/c.txt" gives "a" and "a/b"."""
    directories = set()
    for path in files:
        parents = path.split("/")[:-1]
        directories.update("/".join(parents[:depth]) for depth in range(1, len(parents) + 1))
    return directories


def _split_revision(segments: list[str]) -> tuple[str, str]:
    """Split raw (still URL-encoded) path segments into (revision, path in repo).

    Clients send the revision as one encoded segment (`refs%2Fconvert%2Fparquet`), except HfFileSystem, which
    leaves the special refs `refs/convert/...` and `refs/pr/...` unencoded: those take three segments.
    """
    if not segments:
        return "main", ""
    count = 3 if segments[0] == "refs" else 1
    return unquote("/".join(segments[:count])), unquote("/".join(segments[count:]))


class HubServer(ThreadingHTTPServer):
    """The HTTP server and the Hub's state: repos by (repo type, repo id) and LFS objects by sha256."""

    daemon_threads = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), HubRequestHandler)
        self.lock = threading.Lock()  # handler threads share the state below
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class HubRequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive (the clients pool them); it requires a Content-Length on every answer.
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, format, *args):
        pass  # quiet: unknown routes are logged by `_dispatch` instead

    # ---- plumbing -----------------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # A body of unknown length (an iterator, for httpx) comes in chunks: read up to the empty last one.
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer lines
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> bool:
        """Answer; returns True, so that a route can end with `return self._send(...)` ("handled")."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        # A HEAD answer announces the length of the body a GET would get, and sends none.
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return True

    def _send_json(self, status: int, payload, headers: dict | None = None) -> bool:
        return self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _dispatch(self) -> None:
        body = self._read_body()  # always drained, so a kept-alive connection stays in step
        split = urlsplit(self.path)
        query = parse_qs(split.query)
        # Split before decoding: an encoded "%2F" (in a revision or a path) is not a separator.
        segments = [segment for segment in split.path.split("/") if segment]
        try:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token and token not in TOKENS:
                raise HubError(401, "", "Invalid credentials in Authorization header")
            with self.server.lock:  # one request at a time touches the state; the data is small
                handled = self._route(segments, query, body)
        except HubError as error:
            # Header values must be Latin-1: escape anything else a path could bring.
            headers = {"X-Error-Message": error.message.encode("ascii", "backslashreplace").decode()}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._send_json(error.status, {"error": error.message}, headers)
            return
        except Exception as error:  # a bug here, or a request it did not expect: answer, and show why
            traceback.print_exc()
            self._send_json(500, {"error": f"{type(error).__name__}: {error}"})
            return
        if not handled:
            print(f"hub_server: no route for {self.command} {self.path}", file=sys.stderr, flush=True)
            self._send_json(404, {"error": f"no route for {self.command} {split.path}"})

    # BaseHTTPRequestHandler calls do_<METHOD>; all go through one router (DELETE only to be logged).
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch  # noqa: N815 (names the base class calls)

    def _route(self, segments: list[str], query: dict, body: bytes) -> bool:
        method = self.command
        if segments[:1] == ["api"]:
            rest = segments[1:]
            if method == "GET" and rest == ["whoami-v2"]:
                return self._whoami()
            if method == "POST" and rest == ["validate-yaml"]:
                return self._send_json(200, {"errors": [], "warnings": []})
            if method == "POST" and rest == ["repos", "create"]:
                return self._create_repo(json.loads(body))
            if len(rest) >= 3 and rest[0] in API_REPO_TYPES:
                action = rest[3] if len(rest) > 3 else ""
                handler = {
                    ("GET", ""): self._repo_info,
                    ("GET", "revision"): self._repo_info,
                    ("GET", "tree"): self._tree,
                    ("POST", "paths-info"): self._paths_info,
                    ("POST", "preupload"): self._preupload,
                    ("POST", "commit"): self._commit,
                }.get((method, action))
                if handler is None:
                    return False
                repo = self._repo(API_REPO_TYPES[rest[0]], f"{rest[1]}/{rest[2]}")
                revision, path = _split_revision(rest[4:])
                return handler(repo, revision, path, query, body)
            return False
        if method == "PUT" and len(segments) == 2 and segments[0] == "lfs-objects":
            return self._store_lfs_object(segments[1], body)
        repo_type = "dataset" if segments[:1] == ["datasets"] else "model"
        rest = segments[1:] if repo_type == "dataset" else segments
        if (
            method == "POST"
            and len(rest) == 6
            and rest[1].endswith(".git")
            and rest[2:] == ["info", "lfs", "objects", "batch"]
        ):
            self._repo(repo_type, f"{rest[0]}/{rest[1].removesuffix('.git')}")
            return self._lfs_batch(json.loads(body))
        if method in ("GET", "HEAD") and len(rest) >= 5 and rest[2] == "resolve":
            repo = self._repo(repo_type, f"{rest[0]}/{rest[1]}")
            revision, path = _split_revision(rest[3:])
            return self._resolve(repo, revision, path)
        return False

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.server.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "RepoNotFound", f"Repository not found: {repo_type} {repo_id}")
        return repo

    # ---- account and repos --------------------------------------------------------------------------------------

    def _whoami(self) -> bool:
        token = {"displayName": "dummy", "role": "write"}
        user = {"type": "user", "name": USER_NAME, "fullname": "Dummy User", "orgs": [], "isPro": False}
        return self._send_json(200, {**user, "auth": {"type": "access_token", "accessToken": token}})

    def _create_repo(self, payload: dict) -> bool:
        repo_type = payload.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, "", f"unsupported repo type {repo_type!r}")
        repo_id = f"{payload.get('organization') or USER_NAME}/{payload['name']}"
        answer = {"url": f"{self.server.url}/{URL_PREFIXES[repo_type]}{repo_id}", "name": repo_id}
        if (repo_type, repo_id) in self.server.repos:
            # The Hub's 409 carries the URL too: with exist_ok the client reads it from this answer.
            return self._send_json(409, {**answer, "error": "You already created this repo"})
        repo = Repo(repo_type, repo_id)
        repo.add_commit("initial commit", {})  # the Hub also starts every repo with a commit
        self.server.repos[(repo_type, repo_id)] = repo
        return self._send_json(200, answer)

    def _repo_info(self, repo: Repo, revision: str, path: str, query: dict, body: bytes) -> bool:
        commit = repo.resolve(revision)
        siblings = []
        for file_path, stored in sorted(commit.files.items()):
            sibling = {"rfilename": file_path, "size": len(stored.content), "blobId": stored.blob_id}
            if stored.lfs:  # siblings name the LFS sha256 "sha256" where tree entries say "oid"
                sibling["lfs"] = {**_tree_entry(file_path, stored, commit)["lfs"], "sha256": stored.sha256}
            siblings.append(sibling)
        author, created = repo.repo_id.split("/")[0], repo.commits[0].date
        info = {"id": repo.repo_id, "author": author, "sha": commit.sha, "private": False, "gated": False}
        return self._send_json(
            200, {**info, "createdAt": created, "lastModified": commit.date, "siblings": siblings}
        )

    # ---- listings -----------------------------------------------------------------------------------------------

    def _entries(self, commit: Commit, paths) -> list[dict]:
        """Entries for the given paths that exist in `commit` (files or directories), in the given order."""
        directories = _directories(commit.files)
        return [
            _tree_entry(path, commit.files.get(path), commit)
            for path in paths
            if path in commit.files or path in directories
        ]

    def _tree(self, repo: Repo, revision: str, path: str, query: dict, body: bytes) -> bool:
        commit = repo.resolve(revision)
        path = path.strip("/")
        directories = _directories(commit.files)
        if path and path not in directories:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {revision}")
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = f"{path}/" if path else ""
        children = [
            candidate
            for candidate in sorted(directories | set(commit.files))
            if candidate.startswith(prefix) and (recursive or "/" not in candidate[len(prefix) :])
        ]
        # Directories first, as the Hub lists them.
        children.sort(key=lambda candidate: candidate not in directories)
        return self._send_json(200, self._entries(commit, children))

    def _paths_info(self, repo: Repo, revision: str, path: str, query: dict, body: bytes) -> bool:
        commit = repo.resolve(revision)
        paths = parse_qs(body.decode()).get("paths", [])  # a form: `paths=a&paths=b&expand=False`
        return self._send_json(200, self._entries(commit, [p.strip("/") for p in paths]))

    # ---- uploads ------------------------------------------------------------------------------------------------

    def _preupload(self, repo: Repo, revision: str, path: str, query: dict, body: bytes) -> bool:
        commit = repo.resolve(revision)
        answers = []
        for file in json.loads(body)["files"]:
            lfs = file["path"].lower().endswith(LFS_SUFFIXES)
            stored = commit.files.get(file["path"])
            # The client skips a file whose remote oid equals its own: sha256 for LFS, git blob id otherwise.
            oid = None if stored is None else (stored.sha256 if lfs else stored.blob_id)
            mode = "lfs" if lfs else "regular"
            answers.append({"path": file["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return self._send_json(200, {"files": answers, "commitOid": commit.sha})

    def _lfs_batch(self, payload: dict) -> bool:
        objects = []
        for obj in payload["objects"]:
            answer = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.server.lfs_objects:  # without "actions" the client skips the upload
                answer["actions"] = {"upload": {"href": f"{self.server.url}/lfs-objects/{obj['oid']}"}}
            objects.append(answer)
        body = json.dumps({"transfer": "basic", "objects": objects}).encode()
        return self._send(200, body, "application/vnd.git-lfs+json")

    def _store_lfs_object(self, oid: str, body: bytes) -> bool:
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "", f"content does not match sha256 {oid}")
        self.server.lfs_objects[oid] = body
        return self._send(200, b"", "text/plain")

    def _commit(self, repo: Repo, revision: str, path: str, query: dict, body: bytes) -> bool:
        if revision != "main" or query.get("create_pr", ["0"])[0] not in ("0", "false"):
            raise HubError(400, "", "this test server commits to branch main only (no other branch, no PR)")
        files = dict(repo.commits[-1].files)
        title = "commit"
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title = value.get("summary") or title
                parent = value.get("parentCommit")
                if parent and not repo.commits[-1].sha.startswith(parent):
                    raise HubError(412, "", f"parent commit {parent} is not the head of main")
            elif key == "file":
                files[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                content = self.server.lfs_objects.get(value["oid"])
                if content is None:
                    raise HubError(400, "", f"LFS object of {value['path']} was never uploaded")
                files[value["path"]] = StoredFile(content, lfs=True)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(
                        404, "EntryNotFound", f"A file with this name doesn't exist: {value['path']}"
                    )
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {name: stored for name, stored in files.items() if not name.startswith(folder)}
            else:
                raise HubError(400, "", f"unsupported commit operation {key!r}")
        commit = repo.add_commit(title, files)
        commit_url = f"{self.server.url}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}/commit/{commit.sha}"
        return self._send_json(
            200, {"commitUrl": commit_url, "commitOid": commit.sha, "pullRequestUrl": None}
        )

    # ---- downloads ----------------------------------------------------------------------------------------------

    def _resolve(self, repo: Repo, revision: str, path: str) -> bool:
        commit = repo.resolve(revision)
        stored = commit.files.get(path)
        if stored is None:
            # The client reads X-Repo-Commit even from a 404, to cache that the file does not exist.
            raise HubError(404, "EntryNotFound", f"{path} does not exist at {commit.sha}")
        etag = f'"{stored.etag}"'
        headers = {"X-Repo-Commit": commit.sha, "ETag": etag, "Accept-Ranges": "bytes"}
        if stored.lfs:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(len(stored.content))})
        # Resumed downloads and HfFileSystem reads ask for `bytes=start-[end]`; other forms get the whole file.
        size = len(stored.content)
        byte_range = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if byte_range is None:
            return self._send(200, stored.content, "application/octet-stream", headers)
        start, end = int(byte_range[1]), min(int(byte_range[2] or size - 1), size - 1)
        if start > end:
            return self._send(416, b"", "text/plain", {**headers, "Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return self._send(206, stored.content[start : end + 1], "application/octet-stream", headers)


def serve(port: int = 0) -> tuple[HubServer, str]:
    """Start a server on 127.0.0.1 (`port` 0 picks a free port) in a daemon thread; return it and its URL."""
    server = HubServer(port)
    threading.Thread(target=server.serve_forever, name="hub-server", daemon=True).start()
    return server, server.url


def stop(server: HubServer) -> None:
    """Stop a server started by `serve` and close its socket."""
    server.shutdown()
    server.server_close()


def hub_environment(url: str, hf_home) -> dict[str, str]:
    """A copy of `os.environ` for a client subprocess that talks to the server at `url`, caching under `hf_home`.

    Drops the offline switches (tests set them for the rest of the suite) and the cache variables that would
    override `HF_HOME`, and keeps proxies away from 127.0.0.1.
    """
    environment = dict(os.environ)
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HF_DATASETS_CACHE",
                 "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE"):  # fmt: skip
        environment.pop(name, None)
    no_proxy = ",".join(filter(None, [environment.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    environment.update(
        HF_ENDPOINT=url,
        HF_HUB_DISABLE_XET="1",  # legacy LFS uploads; the Xet protocol is not implemented here
        HF_TOKEN="hf_dummy",
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
    )
    return environment


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve an in-memory Hugging Face Hub stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0 picks a free one)")
    server = HubServer(parser.parse_args().port)
    print(server.url, flush=True)  # a parent process reads this line to learn the port
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
