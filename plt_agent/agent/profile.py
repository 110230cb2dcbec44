"""How to drive a model, decided once from what it says about itself (`Model.supports_tools`,
`n_params`, `mode`) and from the task: the action format, the reply and prose caps, and the
temperatures the whole-file strategy tries.

- native tool calls when the backend takes them;
- a model under TINY_PARAMS rewrites whole files (the scaffold navigates for it) when the
  task is failing tests, or an issue text while the visible tests pass; its answer may
  start with TINY_PROSE_CHARS of prose before the code block;
- otherwise the text protocol: one action per reply, so a reply gets at most an eighth of
  the window (a tiny model, which rambles rather than acts, at most TINY_REPLY_TOKENS) and
  PROSE_CHARS (TINY_PROSE_CHARS) before its action starts.

`config.mode` other than "auto", and the action format of a replayed run (`model.mode`),
win over the choice. This module only decides; it runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from plt_agent.config import Config
from plt_agent.models.base import Model

TINY_PARAMS = 1_000_000_000
TINY_REPLY_TOKENS = 512
PROSE_CHARS = 2000
TINY_PROSE_CHARS = 600
# Two rounds over the whole-file candidates: a greedy model repeats itself at one temperature,
# so every retry uses a new one (the second round interleaves the first). An issue's candidates
# are less certain than a traceback's, so it tries more files with fewer temperatures each.
FAILURE_ROUNDS = ((0.0, 0.3, 0.6, 0.8), (0.45, 0.7, 0.9, 1.0))
ISSUE_ROUNDS = ((0.0, 0.6), (0.3, 0.9))
MODES = ("tools", "text", "whole-file")

Rounds = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class Profile:
    mode: str  # "tools" | "text" | "whole-file"
    reply_tokens: int  # most tokens one reply may take
    prose_chars: int | None  # text before the asked form starts (None: no limit)
    rounds: Rounds  # whole-file: the temperatures tried per candidate file, round by round


def is_tiny(model: Model) -> bool:
    return model.n_params is not None and model.n_params < TINY_PARAMS


def choose_profile(config: Config, model: Model, *, has_failure: bool, issue: bool = False) -> Profile:
    """The profile for `model` on a task: failing tests (`has_failure`), or a message while
    the visible tests pass (`issue`)."""
    mode = _mode(config, model, whole_file_task=has_failure or issue)
    if mode == "tools":
        return Profile(mode, config.reply_tokens, None, ((config.temperature,),))
    if mode == "whole-file":
        rounds = temperature_rounds(config.temperature, ISSUE_ROUNDS if issue else FAILURE_ROUNDS)
        return Profile(mode, config.reply_tokens, TINY_PROSE_CHARS, rounds)
    tiny = is_tiny(model)
    cap = model.context_window // 8
    reply_tokens = max(128, min(config.reply_tokens, min(cap, TINY_REPLY_TOKENS) if tiny else cap))
    prose = TINY_PROSE_CHARS if tiny else PROSE_CHARS
    return Profile(mode, reply_tokens, prose, ((config.temperature,),))


def _mode(config: Config, model: Model, *, whole_file_task: bool) -> str:
    if config.mode != "auto":
        return config.mode
    if model.mode in MODES:
        return model.mode
    if model.supports_tools:
        return "tools"
    return "whole-file" if whole_file_task and is_tiny(model) else "text"


def temperature_rounds(first: float, table: Rounds) -> Rounds:
    """The rounds of `table` starting at the configured temperature, each one new."""
    rounds = [(first, *(t for t in table[0] if t > first))]
    rounds.append(tuple(t for t in table[1] if t > first and t not in rounds[0]))
    return tuple(r for r in rounds if r)
