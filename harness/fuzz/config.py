"""What a campaign (:class:`CampaignConfig`) and each worker (:class:`WorkerSpec`) are asked, and what a
campaign answers (:class:`CampaignResult`): pure data.

The rule for the exit status of ``python -m harness fuzz`` (:func:`exit_status`), the policy of the campaign:

* 130 when interrupted (Ctrl-C), else
* 2 when the candidate cannot be loaded (a usage error), else
* 3 when the harness itself failed (any :class:`HarnessError`, or no case checked), else
* 1 when a finding is NEW: a failure only the candidate has (a divergence torchao does not share, a crash, a
  timeout), including a replayed case that still fails that way; with ``strict``: any finding at all, else
* 0. Known upstream bugs (torchao, run on the same case, fails the same way and a known bug names it) and
  *unjudged* disagreements do not fail the run by default: a case where the candidate does what torchao does and
  the reference does not (``reference``: a suspected bug of the reference) or where torchao crashes on
  annotations the reference rejects with a typed error (``upstream``: an upstream bug not yet named), and a
  timeout that a fresh worker, re-running the case with the same limit, did not reproduce (``flaky``: a busy
  machine, or a rare hang; a timeout that reproduces, or that could not be re-run in the budget, is NEW). They are
  not established failures of the candidate, so they must not fail a quantizer author's or a prepare author's CI; the summary
  lists them loudly, and ``--strict`` (the harness's own long campaigns) makes them fail.

The summary (:func:`summary_table`) and the progress lines show findings by group (:func:`finding_groups`): one
group per status and root-cause key of the signature among the run's findings
(:func:`harness.check.groups.group_keys`), each shown once with its count and its smallest finding; every finding
keeps its own file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from harness.check.groups import (CONFIG_PREFIX, UPSTREAM_FAILS_TOO, UPSTREAM_FAILS_TOO_MEANING, Group, group,
                                  key_label, known_signature, variant_of)

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# the triages (harness.check.run.TRIAGE_*) of a disagreement with torchao that nobody has judged: the status shown
# "flaky": a timeout that a fresh worker, re-running the case, did not reproduce (a busy machine, or a rare hang)
# "refused": the quantizer said it does not support the graph ("X is not supported"): judged not a bug, but listed,
# and failing with --strict
UNJUDGED = {"reference": "REFERENCE? (unjudged)", "upstream": "UPSTREAM? (unjudged)",
            "flaky": "TIMEOUT? (not reproduced)", "refused": "REFUSED (not supported)"}


@dataclass(frozen=True)
class CampaignConfig:
    candidate: str = "torchao.quantization.pt2e.prepare:prepare"
    seconds: float = 60.0  # wall-clock budget of the whole run: start-up and shrinking included
    seed: Optional[int] = None
    jobs: int = 1
    out: str = "fuzz-findings"
    strict: bool = False
    mode: str = "mixed"  # valid | adversarial | mixed
    max_nodes: int = 10
    round_size: int = 30  # cases per hypothesis round (generation "hypothesis")
    generation: str = "fast"  # fast (harness.strategies.fast, shrunk by harness.fuzz.reduce) | hypothesis | guided
    numerics: bool = False
    float_semantics: bool = False  # run the float-semantics invariant (runs both models: slower)
    shrink_seconds: float = 30.0  # longest shrinking of one finding (always within the budget)
    case_timeout: float = 10.0  # a case (both prepares and the checks) running longer is a `timeout` finding
    quiet: bool = False
    stop_on_new: bool = False  # end the run once a new (not known) finding is written
    engine: str = "local"  # local | ray
    address: Optional[str] = None  # the Ray cluster (engine ray); None: a local Ray instance
    replay: tuple[str, ...] = ()  # folders of saved cases replayed before the search, besides `out`
    # what the workers fuzz: "MODULE:NAME" of a target factory (harness.fuzz.target), resolved in the workers
    target: str = "harness.fuzz.target:prepare_target"
    quantizer: Optional[str] = None  # the quantizer factory of the quantizer target ("MODULE:NAME")


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker is asked: the campaign, its id and seed, and its deadlines (absolute times)."""

    config: CampaignConfig
    worker: int
    seed: int
    started: float  # when the campaign started (times in findings are relative to it)
    end: float  # nothing after this: the end of the budget
    generate_share: float = 0.8  # of the time a worker has once ready, the share spent generating (then shrinking)
    replay: tuple[tuple[str, dict], ...] = ()  # saved cases (label, case data) to replay before the search


@dataclass(frozen=True)
class Finding:
    signature: str
    known_id: Optional[str]
    known_title: Optional[str]
    link: Optional[str]
    path: str
    summary: str
    nodes: int
    detected: float  # seconds since the start of the campaign when the first failing case was seen
    seconds: float  # seconds since the start of the campaign when the final case was written
    triage: str = "new"  # "new", "known", "reference" (the reference disagrees with torchao)
    kind: str = "divergence"  # "divergence", "crash", "timeout"
    shrunk: bool = True  # False: written as found (a crash, a timeout, or the budget ran out while shrinking)

    @property
    def named_signature(self) -> str:
        """The signature a known finding is grouped and shown by, ``known:ID`` for every known bug (a judged quantizer
        bug's finding is signed by its id alone); the signature itself otherwise."""
        return known_signature(self.signature) if self.known_id else self.signature

    @property
    def is_new(self) -> bool:
        """A failure of the candidate: neither a known upstream bug nor an unjudged disagreement with torchao."""
        return self.known_id is None and self.triage not in UNJUDGED

    @property
    def unjudged(self) -> bool:
        """The candidate does what torchao does, and nobody has judged the reference's disagreement yet."""
        return self.known_id is None and self.triage in UNJUDGED

    @property
    def status(self) -> str:
        if self.known_id:
            return f"known ({self.known_id})"
        return UNJUDGED.get(self.triage, "NEW")

    @property
    def label(self) -> str:
        """The status in words, for the progress lines."""
        if self.known_id:
            return f"known upstream bug {self.known_id}"
        return {"reference": "UNJUDGED: the reference disagrees with torchao",
                "upstream": "UNJUDGED: torchao crashes where the reference reports an annotation error",
                "flaky": "UNJUDGED: a timeout a re-run did not reproduce",
                "refused": "REFUSED: the quantizer says it does not support this graph"}.get(
                    self.triage, "NEW")


@dataclass
class CampaignResult:
    cases: int
    seconds: float
    findings: list[Finding]
    harness_errors: dict[str, int] = field(default_factory=dict)  # distinct error -> how often
    interrupted: bool = False
    usage_error: Optional[str] = None  # the candidate could not be loaded
    cases_by_place: dict[str, int] = field(default_factory=dict)  # where the cases were checked (engine's words)
    replayed: dict[str, str] = field(default_factory=dict)  # saved case -> "still failing" / "fixed" (-> new path)
    workers_lost: int = 0  # workers lost to their infrastructure (a node or actor gone) and restarted
    # seconds from each start of a worker to its first case (Ready): (worker, seconds), restarts included, in order
    startups: list[tuple[int, float]] = field(default_factory=list)
    # the lines of the quantizer's package the cases reached (the union over the workers); None: not measured
    reached: Optional[frozenset[str]] = None

    def new(self) -> list[Finding]:
        return [f for f in self.findings if f.is_new]

    def known(self) -> list[Finding]:
        return [f for f in self.findings if f.known_id is not None]

    def unjudged(self) -> list[Finding]:
        return [f for f in self.findings if f.unjudged]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rank(f: Finding) -> int:
    return 0 if f.is_new else 1 if f.unjudged else 2


def finding_groups(findings: list[Finding]) -> list[Group]:
    """The findings by root cause: one group per status and key of the signature among them
    (:func:`harness.check.groups.group_keys`); new groups first, then unjudged, then known, each by key. A group's
    witness is its smallest finding (fewest nodes, a shrunk one before one that is not)."""
    by_status: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.signature):
        by_status.setdefault(f.status, []).append(f)
    groups = [g for fs in by_status.values()
              for g in group(fs, lambda f: f.named_signature, lambda f: (f.nodes, not f.shrunk, f.path))]
    return sorted(groups, key=lambda g: (_rank(g.witness), g.key, g.witness.status))


def count_line(groups: list[Group]) -> str:
    """``N new group(s) (M findings), K known (L findings)[, U UNJUDGED (V findings)]``: ``groups`` (the
    :func:`finding_groups` of the findings) by status, with the number of findings in them (left out when there are
    none)."""
    parts = []
    for rank, label in ((0, "new group(s)"), (2, "known"), (1, "UNJUDGED")):
        chosen = [g for g in groups if _rank(g.witness) == rank]
        if chosen or rank != 1:
            n = sum(g.count for g in chosen)
            parts.append(f"{len(chosen)} {label}" + (f" ({_plural(n, 'finding')})" if n else ""))
    return ", ".join(parts)


def summary_table(result: CampaignResult, config: CampaignConfig) -> str:
    """The summary: the count line, then one row per group of findings (:func:`finding_groups`): its key, status,
    number of findings and smallest witness (nodes and case file). Every finding stays on disk."""
    groups = finding_groups(result.findings)
    rows = [("group", "status", "findings", "nodes", "smallest witness")]
    for g in groups:
        f = g.witness
        label = key_label(g.key, (m.signature for m in g.members))
        rows.append((label if len(label) <= 80 else label[:77] + "...", f.status, str(g.count),
                     str(f.nodes) + ("" if f.shrunk else " (not shrunk)"), f.path))
    if any(f.signature.startswith(CONFIG_PREFIX) for f in result.findings):  # a quantizer's configuration variants
        rows = [rows[0] + ("variants",)] + [r + (", ".join(sorted({variant_of(m.signature) for m in g.members})),)
                                           for r, g in zip(rows[1:], groups)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = "interrupted: " if result.interrupted else ""
    lines = [f"\n{head}{result.cases} cases in {result.seconds:.1f} s "
             f"({result.cases / max(result.seconds, 1e-9):.1f}/s); {count_line(groups)}"]
    if result.findings:
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        if len(groups) < len(result.findings):
            lines.append(f"a row is a group of findings with one root cause (the first invariant violated, else the "
                         f"kind of divergence), shown by its smallest; each of the {len(result.findings)} findings "
                         "has its own file")
        if any(g.key == UPSTREAM_FAILS_TOO for g in groups):
            lines.append(f"{UPSTREAM_FAILS_TOO}: {UPSTREAM_FAILS_TOO_MEANING} (a "
                         "failure the run also has on a case torchao gets right is in that failure's group)")
    if result.reached is not None:
        lines.append(f"quantizer lines reached: {len(result.reached)}")
    if result.replayed:
        still = sum(v.startswith("still failing") for v in result.replayed.values())
        lines.append(f"replayed {len(result.replayed)} saved case(s) first: {still} still failing, "
                     f"{len(result.replayed) - still} fixed (moved to {config.out}/fixed/ when they were in {config.out})")
    if len(result.cases_by_place) > 1 or config.engine != "local":
        lines.append("cases per node: " + ", ".join(f"{place}: {n}" for place, n in sorted(result.cases_by_place.items())))
    if result.startups:
        first, *later = result.startups
        lines.append(f"worker start-up (from its start to its first case): {first[1]:.2f} s for the first"
                     + (f", {max(s for _, s in later):.2f} s at most for the {len(later)} other(s)" if later else ""))
    if result.workers_lost:
        lines.append(f"{result.workers_lost} worker(s) lost to their node or actor and restarted; findings already "
                     "sent are safe")
    refused = [f for f in result.unjudged() if f.triage == "refused"]
    if refused:
        lines.append(f"{len(refused)} REFUSAL(S): the quantizer said it does not support these graphs ('... is not "
                     "supported'); not bugs, so the exit status ignores them (--strict fails on them)")
    disagreements = [f for f in result.unjudged() if f.triage not in ("flaky", "refused")]
    if disagreements:
        lines.append(f"!! {len(disagreements)} UNJUDGED disagreement(s) with torchao: the candidate does what torchao "
                     "does and the reference does not. Not failures of the candidate, so the exit status ignores "
                     "them (--strict fails on them); they are questions for the harness's maintainers: please "
                     "report them with the case file(s) above.")
    flaky = [f for f in result.unjudged() if f.triage == "flaky"]
    if flaky:
        lines.append(f"!! {len(flaky)} timeout(s) NOT REPRODUCED: a fresh worker re-ran the case within the case time "
                     "limit (a busy machine, or a rare hang). The exit status ignores them (--strict fails on them); "
                     "the case is kept above.")
    if result.harness_errors:
        total = sum(result.harness_errors.values())
        lines.append(f"THE HARNESS FAILED: {total} error(s) of the harness itself, {len(result.harness_errors)} "
                     "distinct (tracebacks above); the results of this run are incomplete")
    if not result.cases and not result.findings and not result.interrupted:
        lines.append("no case was checked")
    return "\n".join(lines)


def exit_status(result: CampaignResult, config: CampaignConfig) -> int:
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.usage_error is not None:
        return EXIT_USAGE
    if result.harness_errors:
        return EXIT_HARNESS
    if result.new() or (config.strict and result.findings):  # unjudged and known: only with strict
        return EXIT_FOUND
    return EXIT_OK
