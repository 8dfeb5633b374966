"""An engine for the campaign driver's tests (``tests/fuzz/test_campaign.py``, ``test_driver_faults.py``,
``test_launch.py``): no process, a fixed script of events."""

from __future__ import annotations


class ScriptedEngine:
    """Its workers send the batches of ``script``, one a poll (a batch that is an exception is raised instead), then
    finish. It keeps the specs it was asked to start (``started``) and counts its stops (``stopped``)."""

    def __init__(self, script):
        self.script, self.started, self.stopped = list(script), [], 0

    def start(self, spec):
        self.started.append(spec)

    def events(self, timeout):
        if not self.script:
            return []
        batch = self.script.pop(0)
        if isinstance(batch, BaseException):
            raise batch
        return batch

    def placement(self, worker):
        return "this machine"

    def running(self):
        return len(self.script)

    def stop(self):
        self.stopped += 1
        return []
