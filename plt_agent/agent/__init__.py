"""The agent: a loop that asks a model for one action at a time and runs it with the tools.

Public API:
- `Agent`, `AgentSettings`, `Outcome`, `Verdict` (`loop`): the tool-using loop;
- `AgentEvents` (`events`): callbacks a UI overrides to show progress;
- `Trajectory` (`trajectory`): the JSONL run log;
- `parse_action`, `FormatError`, `first_code_block` (`actions`): the text protocol;
- `run_whole_file` (`wholefile`): the whole-file rewrite strategy for tiny models;
- `fix_repository` (`fix`): what `plt-agent fix` and `plt-agent demo` run.
"""
