"""`dictation doctor` against real parts: a fresh install passes and names each part; a dead
queue, a refused mail login, a WordPress that refuses the password, a full disk and a GPU that
is not there each fail with a sentence and a fix hint, and the exit code says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from dictation.errors import ModelUnavailable
from dictation.transcribe import device
from tests.conftest import ROOT, need
from tests.support.mail import SMTP_PASSWORD, SMTP_USER
from tests.support.servers import free_port


def doctor(data_dir, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "DICTATION_DATA_DIR": str(data_dir), "DICTATION_MODEL": "tiny.en", **env}
    for name in ("DICTATION_DATABASE_URL", "DICTATION_QUEUE_URL"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "dictation", *args], cwd=ROOT, capture_output=True, text=True,
                          env=full, input=stdin, timeout=300)


def lines_of(output: str) -> dict[str, str]:
    """{check name: the rest of its line}."""
    found = {}
    for line in output.splitlines():
        if line[:1].strip() and ":" in line:
            name, rest = line.split(":", 1)
            found[name.strip()] = rest.strip()
    return found


def test_doctor_passes_fresh_install_naming_each_part(tmp_path):
    done = doctor(tmp_path, "doctor", DICTATION_DEVICE="auto")
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines_of(done.stdout)
    assert {"data dir", "database", "queue", "engine", "decoder", "amr decoder", "model", "model check", "media store",
            "mail", "destinations"} <= set(found), done.stdout
    assert not [name for name, rest in found.items() if rest.startswith("FAILED")]
    assert found["engine"].startswith("faster-whisper (int8) on cpu")  # auto on a machine without a GPU
    assert "writable" in found["media store"] and "GB free" in found["media store"]
    assert found["model check"].startswith("loaded in")
    assert "AMR-NB (libopencore-amrnb.so.0) and AMR-WB (libopencore-amrwb.so.0)" in found["amr decoder"]


def test_doctor_fails_each_broken_part_with_fix_hint(tmp_path, smtp_server):
    dead = free_port()
    done = doctor(tmp_path, "doctor", "--skip-model", DICTATION_QUEUE_URL=f"redis://127.0.0.1:{dead}/0",
                  DICTATION_SMTP_HOST="127.0.0.1", DICTATION_SMTP_PORT=str(smtp_server.port),
                  DICTATION_SMTP_STARTTLS="false", DICTATION_SMTP_USER=SMTP_USER,
                  DICTATION_SMTP_PASSWORD="not-the-password", DICTATION_DEVICE="cuda")
    assert done.returncode == 1
    found = lines_of(done.stdout)
    assert found["queue"].startswith("FAILED") and "Connection refused" in found["queue"]
    assert found["mail"].startswith("FAILED") and "refused the user desk" in found["mail"]
    assert found["engine"].startswith("FAILED") and "no CUDA GPU" in found["engine"]
    assert done.stdout.count("fix:") >= 3
    assert "not-the-password" not in done.stdout + done.stderr
    assert found["database"] and not found["database"].startswith("FAILED")  # the others still ran

    good = doctor(tmp_path, "doctor", "--skip-model", DICTATION_SMTP_HOST="127.0.0.1",
                  DICTATION_SMTP_PORT=str(smtp_server.port), DICTATION_SMTP_STARTTLS="false",
                  DICTATION_SMTP_USER=SMTP_USER, DICTATION_SMTP_PASSWORD=SMTP_PASSWORD)
    assert good.returncode == 0, good.stdout
    assert "signed in as desk" in lines_of(good.stdout)["mail"]


@pytest.mark.peers
def test_doctor_checks_destination_credentials_on_real_wordpress(tmp_path, wordpress_peer):
    assert doctor(tmp_path, "migrate").returncode == 0
    for name, secret in (("press", wordpress_peer["WP_APP_PASSWORD"]), ("stale", "wrong app password 1234")):
        added = doctor(tmp_path, "destination", "add", name, "--kind", "wordpress", "--url",
                       wordpress_peer["WP_BASE_URL"], "--user", wordpress_peer["WP_USER"], "--secret-stdin",
                       stdin=secret + "\n")
        assert added.returncode == 0, added.stderr
    done = doctor(tmp_path, "doctor", "--skip-model")
    found = lines_of(done.stdout)
    assert done.returncode == 1
    assert "reachable, credentials accepted" in found["destination press"]
    assert found["destination stale"].startswith("FAILED")
    assert "wrong app password" not in done.stdout


def test_doctor_fails_media_store_short_of_space(tmp_path):
    need(os.geteuid() == 0 and shutil.which("mount") is not None, "mounting a small tmpfs needs root")
    media = tmp_path / "media"
    media.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(media)], capture_output=True)
    need(mounted.returncode == 0, f"could not mount a tmpfs: {mounted.stderr.decode()[-200:]}")
    try:
        done = doctor(tmp_path, "doctor", "--skip-model")
    finally:
        subprocess.run(["umount", str(media)], check=False)
    found = lines_of(done.stdout)
    assert done.returncode == 1 and found["media store"].startswith("FAILED"), done.stdout
    assert "0.0 GB free" in found["media store"] and "fix: free space" in done.stdout


def test_resolve_device_cpu_path_and_cuda_refusal():
    need(device.cuda_device_count() == 0, "this machine has a GPU: the refusal cannot be shown here")
    assert device.resolve_device("auto") == "cpu"
    assert device.resolve_device("cpu") == "cpu"
    assert device.resolve_compute_type("cpu", "auto") == "int8"
    assert device.resolve_compute_type("cuda", "auto") == "float16"
    assert device.resolve_compute_type("cpu", "int8_float32") == "int8_float32"
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        device.resolve_device("cuda")


def test_transcribe_refuses_cuda_without_gpu_in_a_sentence(tmp_path):
    need(device.cuda_device_count() == 0, "this machine has a GPU: the refusal cannot be shown here")
    from tests.conftest import shared_file

    done = subprocess.run([sys.executable, "-m", "dictation", "transcribe", str(shared_file("audio/real/jfk.flac")),
                           "--model", "tiny.en", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DICTATION_DATA_DIR": str(tmp_path), "DICTATION_DEVICE": "cuda"})
    assert done.returncode == 2
    assert "DICTATION_DEVICE is cuda" in done.stderr and "Traceback" not in done.stderr


def test_check_amr_decoder_fails_with_install_hint_when_library_missing(monkeypatch):
    """As on a server without Debian's opencore-amr: the library's real load fails (a soname
    that no package ships), and doctor says which decoder is missing and what to install."""
    import dataclasses

    from dictation.audio import amr
    from dictation.ops import doctor as checks

    absent = dataclasses.replace(amr.AMR_WB, library="libopencore-amrwb.so.99")
    monkeypatch.setitem(amr.FLAVOURS, "amr_wb", absent)
    found = checks.check_amr(None)  # type: ignore[arg-type]  # the AMR check reads no setting
    assert not found.ok
    assert "AMR-WB (libopencore-amrwb.so.99 not loadable)" in found.detail and "AMR-NB" not in found.detail
    assert found.hint.startswith("apt install libopencore-amrnb0 libopencore-amrwb0")


def test_check_destinations_closes_each_publisher_it_opened(db, settings, monkeypatch):
    """Doctor asks each destination to look a post up, the one that answers and the one that
    does not; either way it lets go of the publisher's HTTP client afterwards."""
    from dictation.ops import doctor as checks
    from dictation.publish import cms, destinations
    from tests.support.webhook import SECRET, Receiver

    receiver = Receiver()
    made = []
    real = cms.get_publisher

    def keep(config, settings):
        made.append(real(config, settings))
        return made[-1]

    monkeypatch.setattr(cms, "get_publisher", keep)
    try:
        with db.session() as session:
            destinations.ensure_builtin_blog(session)
            destinations.add_destination(session, settings, "hook", "webhook", url=receiver.url, secret=SECRET)
            destinations.add_destination(session, settings, "press", "wordpress", url=f"http://127.0.0.1:{free_port()}",
                                         user="ed", secret="an app password")
        found = {check.name: check for check in checks.check_destinations(settings)}
    finally:
        receiver.close()
    assert found["destination hook"].ok and not found["destination press"].ok, found
    assert sorted(p.kind for p in made) == ["blog", "webhook", "wordpress"]
    for publisher in made:
        # Read as stored: WordPress's `client` property would make a new client.
        client = vars(publisher).get("client") or vars(publisher).get("_client")
        assert client is None or client.is_closed, publisher.kind


def test_check_destinations_reaches_no_private_address_unless_allowed(db, settings):
    """A webhook saved while private destinations were allowed (or whose name now resolves to
    loopback) is not contacted by doctor once they are not: the guarded client refuses it
    before connecting, as a publication would."""
    import socket

    from dictation.ops import doctor as checks
    from dictation.publish import destinations
    from tests.support.webhook import SECRET

    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    try:
        with db.session() as session:
            destinations.add_destination(session, settings, "hook", "webhook", url=url, secret=SECRET)
        strict = settings.model_copy(update={"allow_private_destinations": False, "publish_timeout_s": 2.0})
        found = {check.name: check for check in checks.check_destinations(strict)}
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()  # the kernel would have queued any connection made to it
    finally:
        listener.close()
    hook = found["destination hook"]
    assert not hook.ok and "not allowed" in hook.detail and "loopback" in hook.detail, hook
