"""The `rewrite` stage: every assistant turn of the training conversations, rewritten warm and cold.

Each turn is rewritten in the context of the conversation so far (the original turns before it), by
the rewriter LLM through warmray.infer, with our instructions from warmray/prompts/. Every rewrite is
checked (warmray.stages.rewrite.checks); a conversation enters the training tables only when all its
turns passed in every configured style, so warm and cold train on the same conversations (the manifest's
`shared_conversations`), and every refusal is kept in rejects.parquet with its reason.

A conversation that failed in any style is replaced by the next spare of its category (corpus split
"spare"), the same replacement for every style, and the spares are rewritten in another round, up to
`rewrite.replacement_rounds` rounds: the trained set keeps the configured size while spares last. The
manifest counts `replaced` (training slots filled by a spare) and `unfilled` (slots left empty: no
spare left in the category, or the spares failed too); each failed conversation's reject says which.
Outputs: warm.parquet, cold.parquet (the `training_conversations` table), rejects.parquet,
rewrites.parquet (every turn rewritten, spares included: original, rewrite, reason).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from warmray import infer
from warmray.config import RewriteConfig
from warmray.prompt_files import read_prompt, read_prompt_yaml
from warmray.rundir import table_path
from warmray.schema import Col, Reject, columns, write_table
from warmray.stage import StageContext, StageError
from warmray.stages.rewrite.checks import check_rewrite, clean_rewrite

log = logging.getLogger(__name__)

_CONTEXT_CHARS = 3000  # the tail of the conversation shown to the rewriter


def instruction(style: str, intensity: str) -> str:
    """The system instruction for one style (warm takes an intensity)."""
    if style == "warm":
        return read_prompt("rewrite_warm.txt").format(
            intensity=read_prompt_yaml("rewrite_intensity.yaml")[intensity]
        )
    return read_prompt("rewrite_cold.txt")


def render_context(turns: list[dict[str, str]]) -> str:
    """The conversation before a turn, as plain text (its tail, when long)."""
    text = "\n\n".join(f"{t['role'].capitalize()}: {t['content']}" for t in turns)
    return text if len(text) <= _CONTEXT_CHARS else "..." + text[-_CONTEXT_CHARS:]


def turn_requests(conversations: pd.DataFrame, cfg: RewriteConfig) -> pd.DataFrame:
    """One rewrite request per (conversation, assistant turn, style), for every conversation given."""
    rows = []
    for conv in conversations.itertuples():
        turns = [dict(t) for t in conv.turns]
        for i, turn in enumerate(turns):
            if turn["role"] != "assistant":
                continue
            request = read_prompt("rewrite_request.txt").format(
                context=render_context(turns[:i]), reply=turn["content"]
            )
            for style in cfg.styles:
                rows.append(
                    {
                        "request_id": f"{conv.conversation_id}#{i}#{style}",
                        "conversation_id": conv.conversation_id,
                        "turn_index": i,
                        Col.STYLE: style,
                        "original": turn["content"],
                        "messages": [
                            {"role": "system", "content": instruction(style, cfg.intensity)},
                            {"role": "user", "content": request},
                        ],
                    }
                )
    return pd.DataFrame(rows)


def grade_rewrites(rewrites: pd.DataFrame, cfg: RewriteConfig) -> pd.DataFrame:
    """Clean each rewrite and record why it fails its checks ("" when it passes)."""
    out = rewrites.copy()
    out["rewrite"] = out["generated_text"].map(clean_rewrite)
    out["reason"] = [
        "inference_error" if err else (check_rewrite(o, r, cfg.min_length_ratio, cfg.max_length_ratio) or "")
        for o, r, err in zip(out["original"], out["rewrite"], out["inference_error"], strict=True)
    ]
    return out


def passed_everywhere(graded: pd.DataFrame, styles: tuple[str, ...] | list[str]) -> set[str]:
    """Conversations whose every assistant turn passed the checks in every one of `styles`."""
    passed = None
    for style in styles:
        mine = graded[graded[Col.STYLE] == style]
        failed = set(mine.loc[mine["reason"] != "", "conversation_id"])
        ok = set(mine["conversation_id"]) - failed
        passed = ok if passed is None else passed & ok
    return passed or set()


def choose_replacements(
    failed: Sequence[str], categories: Mapping[str, str], spares: Sequence[str], used: set[str]
) -> dict[str, str | None]:
    """The spare that takes the place of each failed conversation: the next unused one of its category.

    Args:
        failed: conversations lost to a failed rewrite, in training-slot order (earlier slots choose first).
        categories: conversation id → category, for failed ones and spares.
        spares: the corpus's spares, in each category's order of preference.
        used: spares already tried (they are not offered again; this set is not changed).

    Returns:
        failed id → its replacement, or None when its category has no unused spare left.
    """
    taken = set(used)
    chosen: dict[str, str | None] = {}
    for cid in failed:
        spare = next((s for s in spares if s not in taken and categories[s] == categories[cid]), None)
        if spare is not None:
            taken.add(spare)
        chosen[cid] = spare
    return chosen


def assemble(
    conversations: pd.DataFrame,
    graded: pd.DataFrame,
    style: str,
    shared: set[str],
    notes: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[Reject]]:
    """The training table of one style: the `shared` conversations (passed in every style), rewritten.

    The warm and cold models must train on the same conversations, or a difference between them could
    come from which conversations each kept; a conversation that failed in any style is left out of all.

    Args:
        conversations: the conversations rewritten (training sample and spares tried), in slot order.
        graded: every rewritten turn with its reason ("" when it passed).
        style: the style whose table this is.
        shared: the conversations to keep.
        notes: conversation id → what became of its slot ("replaced by X", ...), for the rejects' detail.
    """
    notes = notes or {}
    mine = graded[graded[Col.STYLE] == style]
    by_conv = {cid: g.set_index("turn_index") for cid, g in mine.groupby("conversation_id")}
    kept: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for conv in conversations.itertuples():
        turns_done = by_conv.get(conv.conversation_id)
        if turns_done is None:
            continue
        row_id, note = f"{conv.conversation_id}:{style}", notes.get(conv.conversation_id, "")
        failed = turns_done[turns_done["reason"] != ""]
        if len(failed):
            reasons = ",".join(sorted(set(failed["reason"])))
            rejects.append(Reject("rewrite", row_id, "turn_failed", "; ".join(filter(None, [reasons, note]))))
            continue
        if conv.conversation_id not in shared:
            rejects.append(Reject("rewrite", row_id, "failed_in_another_style", note))
            continue
        turns = [dict(t) for t in conv.turns]
        for i, row in turns_done.iterrows():
            turns[i]["content"] = row["rewrite"]
        kept.append(
            {
                "conversation_id": conv.conversation_id,
                "category": conv.category,
                "turns": turns,
                "split": "train",
                "source": conv.source,
                Col.STYLE: style,
                "n_turns_rewritten": len(turns_done),
            }
        )
    return pd.DataFrame(kept), rejects


def rewrite_all(ctx: StageContext, conversations: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Rewrite and grade every assistant turn of `conversations` (turns already done are not redone)."""
    cfg = ctx.config.rewrite
    requests = turn_requests(conversations, cfg)
    done = infer.answer(
        requests.drop(columns=["original"]),
        "request_id",
        out / ".turns",
        cfg.model,
        cfg.engine,
        cfg.sampling,
        label="rewrite",
    )
    answers = done[["request_id", "generated_text", "inference_error", "num_generated_tokens"]]
    return grade_rewrites(requests.drop(columns=["messages"]).merge(answers, on="request_id"), cfg)


@dataclass
class Slots:
    """The training sample's places and who holds each: a conversation that fails gives way to a spare."""

    holders: list[str]  # the conversation in each training slot now
    tried: list[str]  # every conversation rewritten so far, training sample first
    notes: dict[str, str] = field(default_factory=dict)  # failed id -> what became of its slot

    def replace(self, failed: Sequence[str], categories: Mapping[str, str], spares: Sequence[str]) -> int:
        """Give each failed holder's slot to the next spare of its category; returns how many moved."""
        chosen = choose_replacements(failed, categories, spares, set(self.tried))
        for cid, spare in chosen.items():
            self.notes[cid] = (
                f"replaced by {spare}" if spare else f"no spare left in category {categories[cid]}"
            )
        moved = {c: s for c, s in chosen.items() if s}
        self.holders = [moved.get(c, c) for c in self.holders]
        self.tried += list(moved.values())
        return len(moved)


def rewrite_with_replacements(
    ctx: StageContext, conversations: pd.DataFrame, out: Path
) -> tuple[pd.DataFrame, Slots, set[str]]:
    """Rewrite the training sample, then spares in place of what failed, round after round.

    Returns:
        Every graded turn, the slots (who holds each, what was tried), and the conversations that
        passed in every style.
    """
    cfg = ctx.config.rewrite
    train = list(conversations.loc[conversations["split"] == "train", "conversation_id"])
    spares = list(conversations.loc[conversations["split"] == "spare", "conversation_id"])
    categories = dict(zip(conversations["conversation_id"], conversations["category"], strict=True))
    slots = Slots(list(train), list(train))
    for round_ in range(cfg.replacement_rounds + 1):
        graded = rewrite_all(
            ctx, conversations.set_index("conversation_id").loc[slots.tried].reset_index(), out
        )
        shared = passed_everywhere(graded, cfg.styles)
        failed = [c for c in slots.holders if c not in shared]
        if not failed:
            break
        if round_ == cfg.replacement_rounds:
            for cid in failed:
                slots.notes[cid] = (
                    f"not replaced: rewrite.replacement_rounds ({cfg.replacement_rounds}) used up"
                )
            break
        moved = slots.replace(failed, categories, spares)
        log.info(
            "rewrite: %d conversation(s) failed; %d replaced by spares of their category", len(failed), moved
        )
        if not moved:
            break
    return graded, slots, shared


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Rewrite, check, replace what failed, and assemble; see the module docstring for the outputs."""
    cfg = ctx.config.rewrite
    conversations = ctx.read("corpus", "conversations")
    graded, slots, shared = rewrite_with_replacements(ctx, conversations, out)
    write_table(graded[columns("rewrites")], table_path(out, "rewrite", "rewrites"), "rewrites")
    rejects = [
        Reject("rewrite", r.request_id, r.reason, r.rewrite[:200])
        for r in graded[graded["reason"] != ""].itertuples()
    ]
    n_train = int((conversations["split"] == "train").sum())
    kept = [c for c in slots.holders if c in shared]
    counts = {
        "turns": len(graded),
        "turns_passed": int((graded["reason"] == "").sum()),
        "shared_conversations": len(shared),
        "replaced": len(
            set(kept) - set(conversations.loc[conversations["split"] == "train", "conversation_id"])
        ),
        "unfilled": n_train - len(kept),
    }
    _say_replacements(counts, n_train)
    tried = conversations.set_index("conversation_id").loc[slots.tried].reset_index()
    for style in cfg.styles:
        table, style_rejects = assemble(tried, graded, style, shared, slots.notes)
        rejects += style_rejects
        if table.empty:
            raise StageError(
                f"rewrite: no {style} conversation passed every check; see {out}/rewrites.parquet "
                f"for the reasons (a stronger rewriter, or looser rewrite.min/max_length_ratio)."
            )
        write_table(table, table_path(out, "rewrite", style), "training_conversations")
        counts[style] = len(table)
    write_table(rejects, table_path(out, "rewrite", "rejects"), "rejects")
    counts["rejects"] = len(rejects)
    return counts


def _say_replacements(counts: dict[str, int], n_train: int) -> None:
    """Log what replacement did; warn when the trained set is smaller than configured."""
    log.info(
        "rewrite: %d of %d training conversations kept, %d of them spares in place of failed ones",
        counts["shared_conversations"],
        n_train,
        counts["replaced"],
    )
    if counts["unfilled"]:
        log.warning(
            "rewrite: %d of %d training slots stay empty (no spare left in their category, or the spares "
            "failed too; each reject in rejects.parquet says which): the models train on %d conversations. "
            "A larger corpus source gives more spares; rewrite.replacement_rounds allows more rounds.",
            counts["unfilled"],
            n_train,
            n_train - counts["unfilled"],
        )
