"""`m10 candidates ...`: list, show, explain, find similar, approve and reject recovery candidates."""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer

from m10py.cli.common import JSON_OPTION, client, console, print_json, print_table
from m10py.models import Candidate, ProvenanceEvent

app = typer.Typer(help="Inspect recovery candidates and decide on their suggestions.", no_args_is_help=True)

ACTOR_OPTION = typer.Option(
    None, "--actor", envvar="M10_ACTOR", help="Who decides (default: the login name)."
)


@app.command("list")
def list_(
    ctx: typer.Context,
    decision: str | None = typer.Option(None, "--decision", help="pending, approved or rejected."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    as_json: bool = JSON_OPTION,
) -> None:
    """Candidates, most confident first."""
    with client(ctx) as c:
        rows = c.list_candidates(decision=decision, limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        "recovery candidates",
        ["id", "code", "template", "seen", "action", "confidence", "decision", "execution"],
        [
            (
                r.id,
                r.error_code,
                _short(r.message_template),
                r.occurrence_count,
                r.suggested_action,
                _confidence(r),
                r.decision,
                r.execution_status,
            )
            for r in rows
        ],
    )


@app.command()
def show(ctx: typer.Context, candidate_id: int = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """One candidate, every column."""
    with client(ctx) as c:
        row = c.get_candidate(candidate_id)
    if as_json:
        print_json(row.to_json())
        return
    print_table(f"candidate {candidate_id}", ["field", "value"], list(row.to_json().items()))


@app.command()
def explain(ctx: typer.Context, candidate_id: int = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """Why the candidate has its suggestion: the rules tried, the numbers, the outcome history."""
    with client(ctx) as c:
        row = c.get_candidate(candidate_id)
        events = c.candidate_provenance(candidate_id)
    if as_json:
        print_json({"candidate": row.to_json(), "provenance": [e.to_json() for e in events]})
        return
    _print_explanation(row, events)


@app.command()
def similar(
    ctx: typer.Context,
    candidate_id: int = typer.Argument(...),
    limit: int = typer.Option(10, "--limit", min=1, max=1000),
    as_json: bool = JSON_OPTION,
) -> None:
    """Candidates whose learned templates are near this one's, with a score (1 = same template)."""
    with client(ctx) as c:
        rows = c.similar_candidates(candidate_id, limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        f"candidates similar to {candidate_id}",
        ["id", "score", "code", "template", "seen", "decision", "shared words"],
        [
            (
                r.candidate_id,
                f"{r.score:.3f}",
                r.error_code,
                _short(r.template),
                r.occurrence_count,
                r.decision,
                _short(" ".join(r.shared_words), 40),
            )
            for r in rows
        ],
    )


@app.command()
def approve(
    ctx: typer.Context,
    candidate_id: int = typer.Argument(...),
    actor: str | None = ACTOR_OPTION,
    note: str | None = typer.Option(None, "--note"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve the suggested action (only a pending, evaluated candidate)."""
    _decide(ctx, candidate_id, "approved", actor, note, as_json)


@app.command()
def reject(
    ctx: typer.Context,
    candidate_id: int = typer.Argument(...),
    actor: str | None = ACTOR_OPTION,
    note: str | None = typer.Option(None, "--note"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject the suggested action (only a pending candidate)."""
    _decide(ctx, candidate_id, "rejected", actor, note, as_json)


def _decide(
    ctx: typer.Context, candidate_id: int, decision: str, actor: str | None, note: str | None, as_json: bool
) -> None:
    with client(ctx) as c:
        result = c.decide_candidate(candidate_id, decision, actor=actor or getpass.getuser(), note=note)
    if as_json:
        print_json(result.to_json())
    else:
        console.print(f"candidate {candidate_id}: {result.decision} by {result.decided_by}")


def _print_explanation(row: Candidate, events: list[ProvenanceEvent]) -> None:
    console.print(
        f"candidate {row.id}: {row.error_code} x{row.occurrence_count}, template {row.message_template!r}"
    )
    console.print(
        f"suggestion: {row.suggested_action or '-'} with confidence {_confidence(row)}; "
        f"decision {row.decision}, execution {row.execution_status}"
    )
    evaluation = next((e for e in reversed(events) if e.event == "evaluated"), None)
    if evaluation is None:
        console.print("not evaluated yet")
    else:
        print_table(
            f"latest evaluation ({evaluation.created_at:%Y-%m-%d %H:%M:%S}, by {evaluation.actor})",
            ["input or number", "value"],
            [(key, _cell(value)) for key, value in evaluation.details.items()],
        )
    print_table(
        "history",
        ["#", "event", "actor", "when"],
        [(e.id, e.event, e.actor, f"{e.created_at:%Y-%m-%d %H:%M:%S}") for e in events],
    )


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _confidence(row: Candidate) -> str:
    return "-" if row.confidence is None else f"{row.confidence:.3f}"


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
