"""The quantizer checks behind the pytest plugin (nothing here imports pytest; this ``__init__`` imports nothing).

Its parts, lowest first (``lint-imports`` keeps each importing only from the ones below it; see pyproject.toml):

* ``options`` (what a run is configured with: defaults, budget profiles, ``SuiteOptions``) and ``describe`` (an
  exception, where it was raised, an fx target, in words);
* ``subjects/``, what the checks run on: ``subject`` (the ``Subject`` of one test), ``models`` (the six small
  models, exported), ``random_graphs`` (chunks and their seeds), ``saved_graphs`` (the corpus directory's cases),
  ``case_graphs`` (a case graph as the module program a quantizer sees);
* ``check_registry`` (the one registry of the checks: name, words, scope, runner), ``results`` (``Problem``,
  ``CheckResult``), ``source`` (loading the quantizer to check, for PTQ or QAT) and ``quantizer_triage`` (a
  campaign's failure that is a judged bug of ``corpus/quantizer_bugs``);
* ``checks/``, running the quantizer and judging it: ``quantizer_run`` (annotate and crashes/hangs, with
  ``structure``: only annotations may change, and ``hangs``: a hang remembered), ``well_formed_annotations``,
  ``prepare_agreement``, ``sqnr`` (numerics), and the runners the registry names: ``model_checks`` (with
  ``model_runs``, the cached run per model, and ``claims``, what the quantizer says it supports), ``sqnr``,
  ``graph_checks`` (a case graph; saved graphs), ``random_search`` (random graphs), and ``quantizer_case`` (one
  case of the campaign checked, and the naming of its failure, shared by the campaign and the plugin);
* ``dispatch`` (the list of tests and running one), ``reporting/`` (``failure``: the failure report and the saved
  finding; ``render``: graphs and specs as text) and ``fuzz_target`` (the random-graph checks as a campaign
  target, ``python -m harness fuzz --quantizer``).

The ready-made quantizer factories are not part of it: they are :mod:`harness.quantizers`, outside the layers."""
