"""Tests for the local Hub stand-in `tests/hub_server.py`, driven by the real clients.

huggingface_hub reads HF_ENDPOINT and HF_HUB_DISABLE_XET when it is imported, and the suite runs offline, so every
client runs in a fresh interpreter whose environment comes from `hub_environment` (with its own HF_HOME, so a
download starts from an empty cache). The server itself runs in this process, in a daemon thread.
"""

import hashlib
import http.client
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from hub_server import hub_environment, serve, stop
from safetensors.numpy import save_file

HUB_SERVER_SCRIPT = Path(__file__).with_name("hub_server.py")


@pytest.fixture(scope="module")
def hub_url():
    server, url = serve()
    yield url
    stop(server)


def run_client(script: str, hub_url: str, hf_home, offline: bool = False, **arguments):
    """Run `script` in a fresh interpreter against the hub; it reads `ARGS` and prints one JSON line last."""
    environment = hub_environment(hub_url, hf_home)
    if offline:
        environment["HF_HUB_OFFLINE"] = "1"
    prologue = "import json, sys\nARGS = json.loads(sys.argv[1])\n"
    result = subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(script), json.dumps(arguments, default=str)],
        env=environment,
        stdout=subprocess.PIPE,  # stderr stays on the test's output, shown when a client fails
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, "the client failed: its traceback is in the captured stderr"
    return json.loads(result.stdout.strip().splitlines()[-1])


def request(hub_url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One raw request; returns (status, headers, body)."""
    connection = http.client.HTTPConnection(urlsplit(hub_url).netloc, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def read_folder(folder) -> dict[str, bytes]:
    files = (path for path in folder.rglob("*") if path.is_file())
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in files}


# ---- huggingface_hub ----------------------------------------------------------------------------------------

UPLOAD_FOLDER = """
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError

api = HfApi()
repo_id = api.create_repo("folder-test").repo_id  # no namespace: the server puts it under the dummy user
api.create_repo(repo_id, exist_ok=True)
try:
    api.create_repo(repo_id)
    conflict = None
except HfHubHTTPError as error:
    conflict = error.response.status_code
first = api.upload_folder(repo_id=repo_id, folder_path=ARGS["folder"], commit_message="add folder").oid
operations = [CommitOperationAdd("notes.txt", b"second version"), CommitOperationDelete("sub/"),
              CommitOperationDelete("config.json")]
second = api.create_commit(repo_id, operations, commit_message="edit notes, delete a folder and a file").oid
try:  # the head is `second` now
    api.create_commit(repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="late", parent_commit=first)
    stale_parent = None
except HfHubHTTPError as error:
    stale_parent = error.response.status_code
info = api.model_info(repo_id, revision=first, files_metadata=True)
print(json.dumps({
    "repo_id": repo_id, "conflict": conflict, "stale_parent": stale_parent, "first": first, "second": second,
    "head": api.model_info(repo_id).sha,
    "files": api.list_repo_files(repo_id, revision=first),
    "siblings": {s.rfilename: s.size for s in info.siblings},
    "lfs": sorted(s.rfilename for s in info.siblings if s.lfs is not None),
    "user": api.whoami()["name"],
}))
"""

DOWNLOAD_FOLDER = """
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

def raises(error_class, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except error_class:
        return True
    return False

repo_id, api = ARGS["repo_id"], HfApi()
old_notes = hf_hub_download(repo_id, "notes.txt", revision=ARGS["first"])
print(json.dumps({
    "snapshot": snapshot_download(repo_id),
    "old_snapshot": snapshot_download(repo_id, revision=ARGS["first"]),
    "old_notes": open(old_notes).read(),
    "errors": [
        raises(EntryNotFoundError, hf_hub_download, repo_id, "missing.txt"),
        raises(EntryNotFoundError, hf_hub_download, repo_id, "config.json"),  # deleted by the second commit
        raises(RevisionNotFoundError, api.model_info, repo_id, revision="refs/convert/parquet"),
        raises(RevisionNotFoundError, hf_hub_download, repo_id, "notes.txt", revision="refs/pr/1"),
        raises(RepositoryNotFoundError, hf_hub_download, "dummy/nothing-here", "notes.txt"),
        raises(RepositoryNotFoundError, api.dataset_info, repo_id),  # models and datasets are apart
    ],
}))
"""

OFFLINE_FOLDER = """
from huggingface_hub import hf_hub_download, snapshot_download

notes = hf_hub_download(ARGS["repo_id"], "notes.txt")
print(json.dumps({"snapshot": snapshot_download(ARGS["repo_id"]), "notes": open(notes).read()}))
"""


def test_upload_folder_round_trip(hub_url, tmp_path):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("first version")
    (folder / "config.json").write_text(json.dumps({"hidden_size": 32}))
    (folder / "sub" / "extra.txt").write_text("nested")
    save_file({"weight": np.arange(12, dtype=np.float32).reshape(3, 4)}, folder / "weights.safetensors")
    first = read_folder(folder)
    second = {"notes.txt": b"second version", "weights.safetensors": first["weights.safetensors"]}

    uploaded = run_client(UPLOAD_FOLDER, hub_url, tmp_path / "home_upload", folder=folder)
    assert uploaded["repo_id"] == "dummy/folder-test"
    assert (uploaded["conflict"], uploaded["stale_parent"], uploaded["user"]) == (409, 412, "dummy")
    assert uploaded["head"] == uploaded["second"] != uploaded["first"]
    assert sorted(uploaded["files"]) == sorted(first)
    assert uploaded["siblings"] == {path: len(content) for path, content in first.items()}
    assert uploaded["lfs"] == ["weights.safetensors"]  # went through the LFS batch and a PUT, not inline

    downloaded = run_client(DOWNLOAD_FOLDER, hub_url, tmp_path / "home_download", **uploaded)
    assert read_folder(tmp_path / downloaded["snapshot"]) == second
    assert read_folder(tmp_path / downloaded["old_snapshot"]) == first  # an old sha still resolves
    assert downloaded["old_notes"] == "first version"
    assert downloaded["errors"] == [True] * 6

    offline = run_client(OFFLINE_FOLDER, hub_url, tmp_path / "home_download", offline=True, **uploaded)
    assert offline == {"snapshot": downloaded["snapshot"], "notes": "second version"}


RAW_API, RAW_RESOLVE = "/api/datasets/team/raw", "/datasets/team/raw/resolve"


@pytest.fixture(scope="module")
def raw_dataset(hub_url) -> str:
    """A dataset repo `team/raw` holding `data/a.txt` ("hello"), made with raw requests; returns the commit sha."""
    payload = json.dumps({"name": "raw", "organization": "team", "type": "dataset"}).encode()
    assert request(hub_url, "POST", "/api/repos/create", payload)[0] == 200
    lines = [
        {"key": "header", "value": {"summary": "add"}},
        {"key": "file", "value": {"path": "data/a.txt", "content": "aGVsbG8=", "encoding": "base64"}},
    ]
    _, _, body = request(
        hub_url, "POST", f"{RAW_API}/commit/main", b"\n".join(json.dumps(x).encode() for x in lines)
    )
    return json.loads(body)["commitOid"]


def test_resolve_and_errors(hub_url, raw_dataset):
    """HEAD has headers but no body, Range works, errors carry X-Error-Code, unknown routes give a plain 404."""
    status, headers, body = request(hub_url, "HEAD", f"{RAW_RESOLVE}/{raw_dataset}/data/a.txt")
    assert (status, body, headers["Content-Length"], headers["X-Repo-Commit"]) == (200, b"", "5", raw_dataset)
    assert headers["ETag"]
    status, headers, body = request(
        hub_url, "GET", f"{RAW_RESOLVE}/main/data/a.txt", headers={"Range": "bytes=1-3"}
    )
    assert (status, body, headers["Content-Range"]) == (206, b"ell", "bytes 1-3/5")

    expected_errors = [
        ("HEAD", f"{RAW_RESOLVE}/main/data/b.txt", "EntryNotFound"),
        ("GET", f"{RAW_RESOLVE}/refs%2Fconvert%2Fparquet/data/a.txt", "RevisionNotFound"),
        (
            "GET",
            f"{RAW_RESOLVE}/refs/convert/parquet/data/a.txt",
            "RevisionNotFound",
        ),  # as HfFileSystem sends it
        ("GET", "/team/raw/resolve/main/data/a.txt", "RepoNotFound"),  # a model of that name does not exist
        ("GET", f"{RAW_API}/revision/refs%2Fpr%2F1", "RevisionNotFound"),
        ("GET", f"{RAW_API}/tree/main/nothing", "EntryNotFound"),
    ]
    for method, path, code in expected_errors:
        status, headers, body = request(hub_url, method, path)
        assert (status, headers["X-Error-Code"]) == (404, code), path
        # HEAD announces the length of the body a GET would get, and sends none.
        length = int(headers["Content-Length"])
        assert length > 0 and len(body) == (0 if method == "HEAD" else length), path
    status, headers, body = request(hub_url, "GET", "/api/spaces/team/raw")
    assert status == 404 and "X-Error-Code" not in headers and int(headers["Content-Length"]) == len(body)


def test_listings_and_lfs_objects(hub_url, raw_dataset):
    status, _, body = request(hub_url, "GET", f"{RAW_API}/tree/{raw_dataset}?recursive=true")
    entries = [(entry["type"], entry["path"]) for entry in json.loads(body)]
    assert entries == [("directory", "data"), ("file", "data/a.txt")]
    status, _, body = request(hub_url, "GET", f"{RAW_API}/tree/{raw_dataset}/data")
    assert [entry["path"] for entry in json.loads(body)] == ["data/a.txt"]
    status, _, body = request(hub_url, "POST", f"{RAW_API}/paths-info/{raw_dataset}", b"paths=data&paths=no")
    assert [entry["type"] for entry in json.loads(body)] == ["directory"]

    # An LFS object streamed with chunked encoding, then committed as an lfsFile.
    oid = hashlib.sha256(b"hello").hexdigest()
    assert request(hub_url, "PUT", f"/lfs-objects/{oid}", b"other")[0] == 400  # sha256 mismatch
    assert request(hub_url, "PUT", f"/lfs-objects/{oid}", iter([b"hel", b"lo"]))[0] == 200
    line = {"key": "lfsFile", "value": {"path": "data/b.bin", "algo": "sha256", "oid": oid, "size": 5}}
    assert request(hub_url, "POST", f"{RAW_API}/commit/main", json.dumps(line).encode())[0] == 200
    status, headers, body = request(hub_url, "GET", f"{RAW_RESOLVE}/main/data/b.bin")
    assert (status, body, headers["X-Linked-Size"]) == (200, b"hello", "5")
    assert headers["ETag"] == headers["X-Linked-Etag"] == f'"{oid}"'


def test_command_line_server():
    """`python tests/hub_server.py --port 0` prints its URL first, then serves."""
    process = subprocess.Popen(
        [sys.executable, HUB_SERVER_SCRIPT, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = process.stdout.readline().strip()
        status, _, body = request(url, "GET", "/api/whoami-v2")
        assert (status, json.loads(body)["name"]) == (200, "dummy")
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


# ---- transformers -------------------------------------------------------------------------------------------

PUSH_AND_LOAD_MODEL = """
import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

torch.manual_seed(0)
config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, vocab_size=99)
model = BertModel(config)
commit = model.push_to_hub("dummy/tiny-bert")
state = model.state_dict()
save_file({name: tensor.contiguous() for name, tensor in state.items()}, ARGS["expected"])
# From an empty cache (one torch import fewer than a second process): every byte comes from the server.
loaded = BertModel.from_pretrained("dummy/tiny-bert", cache_dir=ARGS["cache_dir"]).state_dict()
print(json.dumps({"commit": commit.oid, "same_keys": sorted(loaded) == sorted(state),
                  "equal": all(torch.equal(loaded[name], state[name]) for name in state)}))
"""

LOAD_MODEL = """
import torch
from safetensors.torch import load_file
from transformers import BertModel

state = BertModel.from_pretrained("dummy/tiny-bert").state_dict()
expected = load_file(ARGS["expected"])
print(json.dumps({"same_keys": sorted(state) == sorted(expected),
                  "equal": all(torch.equal(state[name], expected[name]) for name in expected)}))
"""


def test_transformers_round_trip(hub_url, tmp_path):
    expected, hf_home = tmp_path / "expected.safetensors", tmp_path / "home_load"
    # The model is downloaded into `hf_home`'s hub cache, which the offline load then reads.
    pushed = run_client(
        PUSH_AND_LOAD_MODEL, hub_url, tmp_path / "home_push", expected=expected, cache_dir=hf_home / "hub"
    )
    assert len(pushed.pop("commit")) == 40
    assert pushed == {"same_keys": True, "equal": True}
    offline = run_client(LOAD_MODEL, hub_url, hf_home, offline=True, expected=expected)
    assert offline == {"same_keys": True, "equal": True}


# ---- datasets -----------------------------------------------------------------------------------------------

ROWS = {"video_id": ["a", "b", "c"], "duration": [1.5, 2.25, 3.0], "labels": [[0, 1], [], [2]]}

PUSH_DATASET = """
import datasets

datasets.Dataset.from_dict(ARGS["rows"]).push_to_hub("dummy/tiny-dataset")
print(json.dumps({}))
"""

LOAD_DATASET = """
import datasets

print(json.dumps(datasets.load_dataset("dummy/tiny-dataset", split="train").to_dict()))
"""


def test_datasets_round_trip(hub_url, tmp_path):
    run_client(PUSH_DATASET, hub_url, tmp_path / "home_push", rows=ROWS)
    assert run_client(LOAD_DATASET, hub_url, tmp_path / "home_load") == ROWS
    assert run_client(LOAD_DATASET, hub_url, tmp_path / "home_load", offline=True) == ROWS


def test_a_token_the_hub_does_not_know_gets_401(hub_url, tmp_path):
    result = run_client(
        """
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
        try:
            HfApi(token=ARGS["token"]).create_repo("dummy/refused")
            status = None
        except HfHubHTTPError as error:
            status = error.response.status_code
        print(json.dumps({"status": status, "whoami": HfApi(token="hf_dummy").whoami()["name"]}))
        """,
        hub_url,
        tmp_path / "home",
        token="hf_revoked",
    )
    assert result == {"status": 401, "whoami": "dummy"}
