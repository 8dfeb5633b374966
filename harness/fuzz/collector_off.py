"""Imported first by the local engine's worker server (:data:`harness.fuzz.local.PRELOAD`): the cyclic garbage
collector is off while the server imports torch and torchao.

The rule: those imports allocate a few hundred thousand objects that live as long as the process, and the
collector's passes over them while they are imported cost about a fifth of the imports' time (measured: 3.1 s
against 2.5 s on the 2-core machine, under load). Nothing the server imports is garbage worth collecting. A
process forked from the server starts by freezing what it inherited and turning the collector back on
(:func:`harness.fuzz.local.collector_on`), so a worker collects its own garbage as any process does.
"""

import gc

gc.disable()
