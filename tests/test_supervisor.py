"""The supervisor under stress and against children that misbehave, with real processes.

The children here are tiny `/bin/sh` stand-ins for `denoiser.worker` (injected through
`worker_command`, as test_faults.py injects a worker that dies mid-save): they read the job
line and write the protocol's lines (or garbage) in milliseconds, so a thousand jobs fit in a
test. The lock is the real `flock` on a real file; the server side is the real
`supervisor.TrainingJobs`, with its real reader thread and process groups.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_for

from denoiser.train import TrainConfig
from denoiser.training import lock, supervisor

ROOT = Path(__file__).resolve().parents[1]
CONFIG = TrainConfig.for_model("classic", epochs=2, train_size=512)
DONE = json.dumps(
    {
        "event": "done",
        "name": None,
        "scores": [],
        "verdict": "worse than no denoising",
        "better": False,
        "seconds": 0.01,
        "images_per_s": 1000.0,
    }
)
PROGRESS = {
    "event": "progress",
    "epoch": 1,
    "epochs": 2,
    "step": 1,
    "steps": 2,
    "loss": 0.3,
    "elapsed": 0.1,
    "images_seen": 256,
    "history": [],
}
ROUNDS = 1000


def child(script: str) -> tuple[str, ...]:
    """A stand-in worker: reads the job line, then runs `script` (sh)."""
    return ("/bin/sh", "-c", f"read job; {script}")


def says(line: str | dict) -> str:
    """`echo` of one line, quoted for sh."""
    text = line if isinstance(line, str) else json.dumps(line)
    return "echo '" + text.replace("'", "'\\''") + "'"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def lock_is_free(path: Path) -> bool:
    """Another open file can take the lock right now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture
def mnist_env(mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))  # preflight looks for the files; nobody reads them


def test_a_thousand_rounds_of_start_finish_cancel_from_many_threads_never_lie_nor_leak(tmp_path, mnist_env):
    before = open_fds()
    slot = supervisor.TrainingJobs(tmp_path / "runs", worker_command=child(f"sleep 0.005; {says(DONE)}"))
    started, refusals, lies, errors = [0], [], [], []
    counter = threading.Lock()

    def visitor(number: int) -> None:
        rng = random.Random(number)
        owner = f"visitor-{number}"
        try:
            while True:
                with counter:
                    if started[0] >= ROUNDS:
                        return
                if (where := slot.elsewhere()) is not None:
                    lies.append(f"elsewhere() saw {where}")
                try:
                    slot.start(owner, CONFIG)
                except supervisor.StartRefused as refusal:
                    if "another server process" in str(refusal):
                        lies.append(str(refusal))
                    refusals.append(str(refusal))
                    time.sleep(0.002)  # a visitor's next press; the job ends on its own meanwhile
                    continue
                with counter:
                    started[0] += 1
                if rng.random() < 0.3:
                    slot.cancel(owner)
        except Exception as error:  # noqa: BLE001 - reported below, with the thread's name
            errors.append(repr(error))

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    final = slot.wait(30)
    assert not errors and not lies, (errors, lies[:3])
    assert started[0] >= ROUNDS and final.number == started[0]
    assert not final.active and final.status in ("done", "cancelled")
    assert set(refusals) <= {"A training is already running on this server, and only one runs at a time."}
    assert not slot.lock.held and slot.lock.holder() is None and lock_is_free(slot.lock.path)
    assert (slot.runs_dir / lock.LOCK_NAME).read_bytes() == b""
    assert wait_for(lambda: open_fds() <= before, timeout=10), f"left open: {open_fds() - before}"


def test_a_job_seen_as_ended_has_already_freed_the_lock(tmp_path, mnist_env):
    """The page's Start after the panel saw the job end: must start, never read as another process."""
    slot = supervisor.TrainingJobs(tmp_path / "runs", worker_command=child(says(DONE)))
    for round_ in range(200):
        slot.start("alice", CONFIG)
        assert wait_for(lambda: not slot.snapshot().active, timeout=10)
        assert slot.elsewhere() is None and lock_is_free(slot.lock.path), f"round {round_}"
    slot.wait(10)


RACING_SERVER = """
import json, sys, time
from denoiser.train import TrainConfig
from denoiser.training import supervisor
runs, log, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
script = f"read job; echo start $$ >> {log}; sleep 0.01; echo end $$ >> {log}; echo '{sys.argv[4]}'"
slot = supervisor.TrainingJobs(runs, worker_command=("/bin/sh", "-c", script))
print("ready", flush=True)
sys.stdin.readline()
won, elsewhere = 0, 0
for _ in range(rounds):
    try:
        slot.start("me", TrainConfig.for_model("classic", epochs=2, train_size=512))
    except supervisor.StartRefused as refusal:
        assert "another server process" in str(refusal), refusal
        elsewhere += 1
        continue
    won += 1
    slot.wait(30)
print(json.dumps({"won": won, "elsewhere": elsewhere}), flush=True)
"""


def test_two_server_processes_racing_for_the_lock_never_train_at_once(tmp_path, mnist_path):
    runs, log = tmp_path / "runs", tmp_path / "children.log"
    env = dict(os.environ, MNIST_DIR=str(mnist_path))
    servers = [
        subprocess.Popen(
            [sys.executable, "-c", RACING_SERVER, str(runs), str(log), "150", DONE],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert [server.stdout.readline().strip() for server in servers] == ["ready", "ready"]
        for server in servers:  # both go at once
            server.stdin.write("go\n")
            server.stdin.flush()
        answers = [json.loads(server.communicate(timeout=300)[0]) for server in servers]
    finally:
        for server in servers:
            server.kill()
            server.wait()
    assert all(server.returncode == 0 for server in servers)
    assert all(answer["won"] > 0 for answer in answers), answers  # both got the machine at times
    lines = log.read_text().split()
    events = list(zip(lines[::2], lines[1::2], strict=True))
    assert len(events) == 2 * sum(answer["won"] for answer in answers)
    for first, second in zip(events[::2], events[1::2], strict=True):  # start, end, start, end...
        assert first[0] == "start" and second == ("end", first[1]), "two trainings overlapped"
    assert lock_is_free(runs / lock.LOCK_NAME)


# A child the supervisor cannot follow: stopped with its whole group, the job failed, the slot free.

SLEEPS = "sleep 120"  # what each misbehaving child does after its line: the test must not wait for it


def misbehave(runs: Path, caplog, script: str) -> tuple[supervisor.TrainingJobs, int, supervisor.JobState]:
    """A job whose child runs `script`: (the slot, the child's pid, the job's final state)."""
    slot = supervisor.TrainingJobs(runs, worker_command=child(script))
    caplog.set_level(logging.ERROR, logger="denoiser.training.supervisor")
    slot.start("alice", CONFIG)
    pid = slot.snapshot().pid
    return slot, pid, slot.wait(30)


@pytest.mark.parametrize(
    "line, cause",
    [
        ("{not json", "not JSON"),
        ('["progress"]', "not a JSON object"),
        ('{"event": "party"}', "unknown event 'party'"),
        (PROGRESS | {"epoch": "one"}, "progress: field 'epoch' should be int"),
        (PROGRESS | {"learning_rate": 0.1}, "progress: unexpected field 'learning_rate'"),
        ({"event": "snapshot", "epoch": 1.0, "image": [0] * 10}, "snapshot: field 'image' should be"),
        ({k: v for k, v in json.loads(DONE).items() if k != "verdict"}, "done: field 'verdict' is missing"),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "unknown-event",
        "wrong-type",
        "unexpected-field",
        "bad-image",
        "missing",
    ],
)
def test_a_line_the_server_cannot_apply_stops_the_child_and_fails_the_job(
    tmp_path, mnist_env, caplog, line, cause
):
    script = f"{says(PROGRESS)}; {says(line)}; {SLEEPS} & {SLEEPS}"
    slot, pid, state = misbehave(tmp_path / "runs", caplog, script)
    assert state.status == "failed" and state.message == f"training failed: {supervisor.UNREADABLE}"
    assert cause in caplog.text and str(pid) in caplog.text
    assert wait_for(lambda: not group_members(pid), timeout=10), "the child's group outlived the job"
    assert lock_is_free(slot.lock.path) and not slot.lock.held
    assert slot.snapshot().progress is not None  # the line before the bad one was applied
    slot.worker_command = list(child(says(DONE)))
    slot.start("bob", CONFIG)  # the slot is free again
    assert slot.wait(30).status == "done"


def test_a_child_that_closes_its_output_and_runs_on_is_stopped(tmp_path, mnist_env, caplog, monkeypatch):
    monkeypatch.setattr(supervisor, "EXIT_GRACE_S", 0.5)
    slot, pid, state = misbehave(tmp_path / "runs", caplog, f"{says(PROGRESS)}; exec >&-; {SLEEPS}")
    assert state.status == "failed" and state.message == f"training failed: {supervisor.HUNG}"
    assert "closed its output but did not exit" in caplog.text
    assert wait_for(lambda: not group_members(pid), timeout=10)
    assert lock_is_free(slot.lock.path)


def test_a_child_that_dies_without_a_word_fails_the_job_with_its_exit_status(tmp_path, mnist_env):
    slot = supervisor.TrainingJobs(tmp_path / "runs", worker_command=child(f"{says(PROGRESS)}; exit 7"))
    slot.start("alice", CONFIG)
    state = slot.wait(30)
    assert state.status == "failed"
    assert state.message == "training failed: the training process ended unexpectedly (exit status 7)"
    assert lock_is_free(slot.lock.path)


def test_a_child_naming_a_model_it_was_not_asked_for_gets_nothing_selected(tmp_path, mnist_env):
    other = DONE.replace('"name": null', '"name": "../../etc/x"')
    slot = supervisor.TrainingJobs(tmp_path / "runs", worker_command=child(says(other)))
    slot.start("alice", CONFIG)
    state = slot.wait(30)
    assert state.status == "failed" and state.result_key is None


# Priority under scheduler autogroups: nice ranks threads only inside one group, and a session is one.


def autogroup(pid: int) -> str | None:
    """The process's autogroup, None where it has none: the kernel prints nothing for a task whose
    CPU share a cgroup decides (a container's cpu controller), as on the CI machine."""
    words = Path(f"/proc/{pid}/autogroup").read_text().split()
    return words[0] if words else None


def group_and_session(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[3])


def started(tmp_path: Path, start_as: str) -> tuple[supervisor.TrainingJobs, int]:
    slot = supervisor.TrainingJobs(tmp_path / start_as, worker_command=child("sleep 120"), start_as=start_as)
    slot.start("alice", CONFIG)
    return slot, slot.snapshot().pid


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="a kernel without autogroups")
def test_by_default_the_child_leads_its_own_session_and_is_asked_to_lower_its_autogroup(tmp_path, mnist_env):
    """A session of its own (so, under autogroups, a scheduler group of its own), told to give that
    group its nice (the real worker does: tests/test_jobs.py); the server's group is left alone."""
    ours = autogroup(os.getpid())
    slot, pid = started(tmp_path, "autogroup")
    assert group_and_session(pid) == (pid, pid)  # Cancel stops its group
    assert b"DENOISER_CHILD_AUTOGROUP_NICE=1\0" in Path(f"/proc/{pid}/environ").read_bytes()
    assert autogroup(os.getpid()) == ours
    assert slot.cancel("alice") and slot.wait(30).status == "cancelled"


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="a kernel without autogroups")
def test_the_other_ways_keep_the_server_session_or_a_full_weight_group(tmp_path, mnist_env):
    ours = autogroup(os.getpid())
    slot, pid = started(tmp_path, "group")  # in the server's session: its nice ranks it below the server
    assert group_and_session(pid) == (pid, os.getsid(0))
    if ours is not None:
        assert autogroup(pid) == ours
    assert slot.cancel("alice") and slot.wait(30).status == "cancelled"
    slot, pid = started(tmp_path, "session")  # the first way: a group of its own at full weight
    assert group_and_session(pid) == (pid, pid)
    if ours is not None:
        assert autogroup(pid) != ours and Path(f"/proc/{pid}/autogroup").read_text().split()[1:] == [
            "nice",
            "0",
        ]
    assert slot.cancel("alice") and slot.wait(30).status == "cancelled"
    with pytest.raises(ValueError, match="start_as must be one of autogroup, group, session"):
        supervisor.TrainingJobs(tmp_path / "x", start_as="fork")
