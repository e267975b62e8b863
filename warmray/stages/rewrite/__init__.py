"""The `rewrite` stage: every assistant turn of the training conversations, rewritten warm and cold.

Each turn is rewritten in the context of the conversation so far (the original turns before it), by
the rewriter LLM through warmray.infer, with our instructions from warmray/prompts/. Every rewrite is
checked (warmray.stages.rewrite.checks); a conversation enters the training tables only when all its
turns passed in every configured style, so warm and cold train on the same conversations (the manifest's
`shared_conversations`), and every refusal is kept in rejects.parquet with its reason.
Outputs: warm.parquet, cold.parquet (the `training_conversations` table), rejects.parquet,
rewrites.parquet (every turn: original, rewrite, reason).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from warmray import infer
from warmray.config import RewriteConfig
from warmray.prompt_files import read_prompt, read_prompt_yaml
from warmray.rundir import table_path
from warmray.schema import Reject, columns, write_table
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
    """One rewrite request per (training conversation, assistant turn, style)."""
    rows = []
    for conv in conversations[conversations["split"] == "train"].itertuples():
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
                        "style": style,
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
        mine = graded[graded["style"] == style]
        failed = set(mine.loc[mine["reason"] != "", "conversation_id"])
        ok = set(mine["conversation_id"]) - failed
        passed = ok if passed is None else passed & ok
    return passed or set()


def assemble(
    conversations: pd.DataFrame, graded: pd.DataFrame, style: str, shared: set[str]
) -> tuple[pd.DataFrame, list[Reject]]:
    """The training table of one style: the `shared` conversations (passed in every style), rewritten.

    The warm and cold models must train on the same conversations, or a difference between them could
    come from which conversations each kept; a conversation that failed in any style is left out of all.
    """
    mine = graded[graded["style"] == style]
    by_conv = {cid: g.set_index("turn_index") for cid, g in mine.groupby("conversation_id")}
    kept: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for conv in conversations[conversations["split"] == "train"].itertuples():
        turns_done = by_conv.get(conv.conversation_id)
        if turns_done is None:
            continue
        failed = turns_done[turns_done["reason"] != ""]
        if len(failed):
            reasons = ",".join(sorted(set(failed["reason"])))
            rejects.append(Reject("rewrite", f"{conv.conversation_id}:{style}", "turn_failed", reasons))
            continue
        if conv.conversation_id not in shared:
            rejects.append(
                Reject("rewrite", f"{conv.conversation_id}:{style}", "failed_in_another_style", "")
            )
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
                "style": style,
                "n_turns_rewritten": len(turns_done),
            }
        )
    return pd.DataFrame(kept), rejects


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Rewrite, check and assemble; see the module docstring for the outputs."""
    cfg = ctx.config.rewrite
    conversations = ctx.read("corpus", "conversations")
    requests = turn_requests(conversations, cfg)
    asks = requests.drop(columns=["original"])
    done = infer.answer(
        asks, "request_id", out / ".turns", cfg.model, cfg.engine, cfg.sampling, label="rewrite"
    )
    graded = grade_rewrites(
        requests.drop(columns=["messages"]).merge(
            done[["request_id", "generated_text", "inference_error", "num_generated_tokens"]], on="request_id"
        ),
        cfg,
    )
    write_table(graded[columns("rewrites")], table_path(out, "rewrite", "rewrites"), "rewrites")
    rejects = [
        Reject("rewrite", r.request_id, r.reason, r.rewrite[:200])
        for r in graded[graded["reason"] != ""].itertuples()
    ]
    counts = {"turns": len(graded), "turns_passed": int((graded["reason"] == "").sum())}
    shared = passed_everywhere(graded, cfg.styles)
    counts["shared_conversations"] = len(shared)
    for style in cfg.styles:
        table, style_rejects = assemble(conversations, graded, style, shared)
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
