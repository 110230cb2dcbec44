"""The agent: a loop that asks a model for one action at a time and runs it with the tools.

Public API:
- `Agent`, `AgentSettings`, `Outcome`, `Verdict` (`loop`): the tool-using loop;
- `AgentEvents` (`events`): callbacks a UI overrides to show progress;
- `Trajectory` (`trajectory`): the JSONL run log;
- `parse_action`, `FormatError`, `action_complete`, `first_code_block` (`actions`): the text protocol;
- `ReplyWatch` (`replywatch`): ends a streamed reply when complete, rambling or looping;
- `WholeFileRun` (`wholefile`): the whole-file rewrite strategy for tiny models, for failing
  tests (`run`) and for issue texts while the visible tests pass (`run_issue`);
- `merge_answer`, `check_answer` (`answers`): a rewritten file applied as the smallest change;
- `candidate_files`, `issue_candidates`, `usage_snippet` (`localize`): where to look;
- `fix_repository` (`fix`): what `plt-agent fix` and `plt-agent demo` run.
"""
