"""Huey consumers: `dictation worker`, and the supervised worker processes beside the API in
`dictation serve`.

The server's workers are child processes, not threads: a transcription that crashes the
interpreter or is killed for memory takes down its worker, never the API. A supervisor
thread in the server starts them again; the restarted worker's first recovery round finds the
dead worker's job (its pid is gone) and runs it again.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import multiprocessing.synchronize
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import huey
from huey.consumer import Consumer, ConsumerStopped

from dictation import housekeeping
from dictation.errors import DictationError
from dictation.jobs.context import StopFlag
from dictation.jobs.options import JobOptions
from dictation.jobs.queue import DEFAULT_QUEUE_NAME, database_for
from dictation.jobs.recovery import recover_stale_jobs
from dictation.jobs.runner import make_queue
from dictation.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    # Must match the queue name the API enqueues on (tests use one per test on a shared Redis).
    queue_name: str = DEFAULT_QUEUE_NAME
    # Retries, heartbeat, staleness.
    jobs: JobOptions = field(default_factory=JobOptions)
    # "thread" or "process"; None: threads for one worker, processes for more (two 1-thread
    # processes transcribe faster than one 2-thread process here, see TESTING.md).
    worker_type: str | None = None
    # How often this worker looks for dead workers' jobs (it also does at start).
    recover_every_s: float = 15.0
    # How often this worker runs housekeeping (expired uploads and sessions, partial files).
    housekeeping_every_s: float = 600.0
    # Load the transcription model when the worker starts, not when the first memo arrives.
    preload_model: bool = True
    # "module:function" each worker process runs first (plugging in the job kinds). Named, not
    # imported: a spawned child imports it itself, and jobs must not import the app's start-up.
    setup: str = "dictation.startup:register_job_kinds"
    # Pause before starting a dead worker process again (a worker dying at once must not spin).
    restart_delay_s: float = 1.0
    # Longest a worker process takes to stop once asked (or orphaned) before it ends regardless.
    stop_grace_s: float = 30.0


class _InProcessConsumer(Consumer):  # type: ignore[misc]  # huey ships no type information
    def _set_signal_handlers(self) -> None:
        pass  # the API server owns the signals; stop through WorkerHandle.stop()


def _consumer(settings: Settings, workers: int, options: WorkerOptions, in_process: bool) -> Consumer:
    queue = make_queue(settings, options.queue_name, options.jobs)
    if options.preload_model:
        queue.on_startup("preload_model")(lambda: _preload_model(settings))
    worker_type = options.worker_type or ("thread" if workers <= 1 or in_process else "process")
    consumer_class = _InProcessConsumer if in_process else Consumer
    consumer = consumer_class(queue, workers=workers, worker_type=worker_type, periodic=False,
                              max_delay=1.0, shutdown_timeout=30.0)
    queue.stopping = consumer.stop_flag  # running jobs go back to the queue when it is set
    return consumer


def _preload_model(settings: Settings) -> None:
    """Load the engine once in this worker process (the module caches it)."""
    from dictation.transcribe import TranscribeOptions, load_engine

    try:
        load_engine(TranscribeOptions.from_settings(settings))
    except DictationError as exc:
        log.error("transcription model not loaded: %s", exc.message)


def _recover(settings: Settings, queue: huey.Huey) -> None:
    try:
        with database_for(settings).session() as session:
            recover_stale_jobs(session, queue=queue)
    except Exception:  # noqa: BLE001 - the database may be briefly away; next round
        log.warning("recovery round failed", exc_info=True)


def housekeep(settings: Settings) -> None:
    """One housekeeping round, as the worker's supervision loop runs it now and then."""
    try:
        housekeeping.sweep(settings, database_for(settings))
    except Exception:  # noqa: BLE001 - never let cleaning stop the worker
        log.warning("housekeeping round failed", exc_info=True)


def _supervise(consumer: Consumer, settings: Settings, options: WorkerOptions,
               stop_event: StopFlag | None) -> None:
    """The consumer's main loop (worker health checks) with a recovery round now and then,
    and housekeeping less often."""
    next_recovery = next_housekeeping = 0.0
    health = time.monotonic()
    while True:
        if stop_event is not None and stop_event.is_set():
            consumer.stop(graceful=True)
            return
        if time.monotonic() >= next_recovery:
            _recover(settings, consumer.huey)
            next_recovery = time.monotonic() + options.recover_every_s
        if time.monotonic() >= next_housekeeping:
            housekeep(settings)
            next_housekeeping = time.monotonic() + options.housekeeping_every_s
        try:
            health = consumer.loop(health)
        except ConsumerStopped:
            return


def run_worker(settings: Settings, workers: int = 1, stop_event: threading.Event | None = None,
               options: WorkerOptions | None = None) -> None:
    """Run `workers` workers until SIGINT/SIGTERM (or `stop_event`), as `dictation worker` does."""
    options = options or WorkerOptions()
    consumer = _consumer(settings, max(1, workers), options, in_process=threading.current_thread()
                         is not threading.main_thread())
    log.info("worker started: %s %s worker(s) on queue %r", workers, consumer.worker_type, options.queue_name)
    consumer.start()
    try:
        _supervise(consumer, settings, options, stop_event)
        # Even on a fast stop (SIGTERM), give running jobs time to put themselves back in the
        # queue: they do at their next progress report, one window of audio later, which took a
        # 1-thread worker on a busy 2-core machine 8 s, once 25 s. The 10 s allowed here before
        # cut such jobs off: they then wait for recovery and count an extra attempt.
        deadline = time.monotonic() + options.stop_grace_s
        for _, worker in consumer.worker_threads:
            worker.join(max(0.0, deadline - time.monotonic()))
    finally:
        log.info("worker stopped")


def _call_named(target: str) -> None:
    module, _, name = target.partition(":")
    getattr(importlib.import_module(module), name)()


def _worker_process(settings: Settings, options: WorkerOptions,
                    stop_event: multiprocessing.synchronize.Event) -> None:
    """A supervised worker's main: one job at a time, until the server asks it to stop."""
    # Ctrl+C reaches the whole process group; the server stops its workers itself, gracefully.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only a flag here: setting the multiprocessing Event from a signal handler deadlocks when the
    # main thread holds its lock (seen in is_set); the watchdog thread passes it on.
    terminated: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))
    _call_named(options.setup)
    parent = os.getppid()
    consumer = _consumer(settings, 1, options, in_process=True)
    consumer.start()

    def watchdog() -> None:
        # Stop when asked, when sent SIGTERM, or when the server died without stopping us.
        while not (stop_event.wait(0.5) or terminated or os.getppid() != parent):
            pass
        stop_event.set()
        # A graceful stop (the running job back in the queue) gets this long; then the process
        # ends whatever thread still waits, rather than linger as an orphan.
        time.sleep(options.stop_grace_s)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    _supervise(consumer, settings, options, stop_event)
    deadline = time.monotonic() + 10
    for _, worker in consumer.worker_threads:
        worker.join(max(0.0, deadline - time.monotonic()))
    logging.shutdown()
    os._exit(0)  # everything is in the database; do not wait on threads a library left behind


@dataclass
class WorkerHandle:
    """The supervised worker processes of `dictation serve`; `stop()` when the server stops."""

    settings: Settings
    options: WorkerOptions
    count: int
    processes: list[multiprocessing.process.BaseProcess] = field(default_factory=list)
    restarts: int = 0  # worker processes started again after they died
    _stopping: threading.Event = field(default_factory=threading.Event)
    _context: multiprocessing.context.SpawnContext = field(
        default_factory=lambda: multiprocessing.get_context("spawn"))
    # One stop Event per process, never shared: a process killed while it holds an Event's
    # lock (SIGKILL, OOM) leaves it locked for good, and every sharer would hang on it.
    _child_stops: list[multiprocessing.synchronize.Event | None] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> WorkerHandle:
        # spawn, not fork: the server has threads (and database connections) a fork would copy.
        self._child_stops = [None] * self.count
        self.processes = [self._spawn(i) for i in range(self.count)]
        self._thread = threading.Thread(target=self._watch, name="dictation-worker-supervisor", daemon=True)
        self._thread.start()
        return self

    def _spawn(self, index: int) -> multiprocessing.process.BaseProcess:
        self._child_stops[index] = stop = self._context.Event()
        process = self._context.Process(target=_worker_process, args=(self.settings, self.options, stop),
                                        name=f"dictation-worker-{index}", daemon=True)
        process.start()
        log.info("worker process %s started (pid %s)", index, process.pid)
        return process

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self.processes):
                if process.is_alive() or self._stopping.is_set():
                    continue
                log.error("worker process %s (pid %s) died with exit code %s; starting it again",
                          index, process.pid, process.exitcode)
                if self._stopping.wait(self.options.restart_delay_s):
                    return
                self.processes[index] = self._spawn(index)
                self.restarts += 1

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.is_alive() and p.pid is not None]

    @property
    def alive(self) -> bool:
        return any(p.is_alive() for p in self.processes)

    def stop(self, timeout: float = 35.0) -> None:
        """Running jobs go back to the queue at their next progress report; waits for that."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        for stop in self._child_stops:
            if stop is not None:
                stop.set()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                log.warning("worker process %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(5)


def start_in_process_worker(settings: Settings, workers: int | None = None,
                            options: WorkerOptions | None = None) -> WorkerHandle | None:
    """Supervised worker processes beside the API (`settings.workers` of them; None when that is
    0), each one job at a time; one that dies is started again."""
    workers = settings.workers if workers is None else workers
    if workers <= 0:
        return None
    return WorkerHandle(settings, options or WorkerOptions(), workers).start()
