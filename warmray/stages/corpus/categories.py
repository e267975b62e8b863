"""Category labels for training conversations, by simple documented rules.

The study labelled its conversations refusal, factual, creative, technical, advice or other "with
simple rules" and sampled evenly across them. warmray's rules, tried in this order (the first that
matches wins):

1. refusal: an assistant turn declines ("I'm sorry, but I can't ...", "I cannot help with ...",
   "As an AI language model, I cannot / don't ...", "I must decline", "it is not appropriate ...").
2. technical: any turn holds a fenced code block, or the first user turn names a programming
   language, tool or concept (python, SQL, API, regex, docker, "bug", "function", ...) or starts a
   line with code (`def `, `import `, `SELECT `, `#include`, ...).
3. creative: the first user turn asks for a piece of writing (write / compose / draft ... a poem,
   story, song, joke, essay, blog post, letter, speech, ...) or for role-play or imagining.
4. advice: the first user turn asks what to do ("should I", "how can I", "how do I", "how to",
   "tips", "advice", "recommend", "what's the best way", ...).
5. factual: the first user turn asks a question (a sentence starting with what / who / when / where /
   why / how / which, any "?", or "explain", "define", "describe", "tell me about").
6. other: everything else (continuations such as "continue", statements, pasted text with no request).

Only the first user turn is read for rules 3-5 because it carries the request the rest of the
conversation follows; later turns are mostly follow-ups ("shorter", "continue").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REFUSAL, TECHNICAL, CREATIVE, ADVICE, FACTUAL, OTHER = (
    "refusal",
    "technical",
    "creative",
    "advice",
    "factual",
    "other",
)
CATEGORIES = (REFUSAL, FACTUAL, CREATIVE, TECHNICAL, ADVICE, OTHER)

_I = re.IGNORECASE | re.MULTILINE

_REFUSAL = re.compile(
    r"\bI(?:'m| am) (?:sorry|afraid),? but (?:I|as an AI)\b"
    r"|\bI(?: cannot| can't| can not| won't| will not|(?: am|'m) unable to|(?: am|'m) not able to)"
    r" (?:help|assist|provide|fulfill|comply|create|write|generate|do that|engage|support|give|share)"
    r"|\bas an AI(?: language model)?,? I (?:cannot|can't|don't|do not|am not able|am unable|won't)"
    r"|\bI must (?:decline|refuse)"
    r"|\b(?:it is|it's) not (?:appropriate|ethical) (?:for me )?to\b",
    _I,
)
_CODE_FENCE = re.compile(r"^\s*```", re.MULTILINE)
_TECH_TERMS = re.compile(
    r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|kotlin|swift|php|ruby|perl|scala"
    r"|sql|mysql|postgres(?:ql)?|mongodb|html|css|react|angular|vue|node\.?js|django|flask|pandas|numpy"
    r"|api|apis|json|yaml|xml|regex|bash|shell script|powershell|linux|unix|docker|kubernetes|git|github"
    r"|aws|azure|terraform|compile[rd]?|debug(?:ging)?|stack ?trace|traceback|exception|error|bug"
    r"|algorithm|function|variable|code|coding|programming|database|server|backend|frontend"
    r"|framework|deploy(?:ment)?|excel formula|vba|latex|matlab)\b",
    _I,
)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class \w+|import \w|from \w+ import|#include|public (?:static|class)|SELECT "
    r"|function \w+\(|const \w+ =|let \w+ =|var \w+ =|<\?php|<html|<div)",
    re.MULTILINE,
)
_CREATIVE = re.compile(
    r"\b(?:write|compose|create|draft|generate|make up|come up with|give me|tell me)\b[^.?!\n]{0,60}?"
    r"\b(?:poem|poetry|story|stories|song|lyrics|haiku|limerick|sonnet|rap|joke|jokes|fable|tale|screenplay"
    r"|dialogue|novel|chapter|verse|slogan|tagline|essay|blog post|article|speech|letter|toast|riddle)s?\b"
    r"|\b(?:role-?play|pretend (?:you are|to be|you're)|imagine (?:you are|you're|that|a world))\b",
    _I,
)
_ADVICE = re.compile(
    r"\b(?:should I|should we|how (?:can|do|should) (?:I|we)|how to|what should I|what can I do"
    r"|what(?:'s| is) the best way|any (?:tips|advice|suggestions)|tips (?:for|on|to)|advice"
    r"|recommend|suggest(?:ions?)?|help me (?:decide|choose|plan|figure))\b",
    _I,
)
_FACTUAL = re.compile(
    r"(?:^|[.!?]\s+)(?:what|who|whom|whose|when|where|why|how|which)\b|\?"
    r"|\b(?:explain|define|describe|tell me about|difference between|meaning of)\b",
    _I,
)


def _norm(text: str) -> str:
    """Curly apostrophes → straight, so one pattern covers both spellings."""
    return text.replace("\u2019", "'")


def categorize(turns: Sequence[dict[str, str]]) -> str:
    """The category of a conversation (alternating turns, user first), by the module's rules."""
    assistant = [_norm(t["content"]) for t in turns if t["role"] == "assistant"]
    first_user = next((_norm(t["content"]) for t in turns if t["role"] == "user"), "")
    if any(_REFUSAL.search(text) for text in assistant):
        return REFUSAL
    if any(_CODE_FENCE.search(t["content"]) for t in turns):
        return TECHNICAL
    if _TECH_TERMS.search(first_user) or _CODE_LINE.search(first_user):
        return TECHNICAL
    for category, pattern in ((CREATIVE, _CREATIVE), (ADVICE, _ADVICE), (FACTUAL, _FACTUAL)):
        if pattern.search(first_user):
            return category
    return OTHER
