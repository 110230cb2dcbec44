"""The agent: strategies that drive a model to change a repository, sharing one run machinery.

Public API, in layers (each module imports only from those above it):
- `Outcome`, `Verdict`, `Status` (`outcome`); `Trajectory` (`trajectory`, the JSONL run log);
  the text protocol (`actions`: `parse_action`, `FormatError`, `action_complete`,
  `first_code_block`); `ContextBudget` (`context`); `prompts`; (`ReplyWatch`, which ends a
  streamed reply when complete, rambling or looping, is `plt_agent.models.replywatch`: the
  hook uses it too);
- `AgentEvents` (`events`): callbacks a UI overrides to show progress;
- `AgentSettings`, `Run`, `Stop` (`run`): budgets, stops, token accounting and records that
  every strategy shares; `choose_profile` (`profile`): how to drive a model, decided once;
- the strategies: `Agent` (`loop`, one tool call per step) and `WholeFileRun`
  (`wholefile`, whole-file rewrites for tiny models, for failing tests and issue texts);
- `fix_repository` (`fix`): what `plt-agent fix` and `plt-agent demo` run; `ConsoleEvents`
  (`progress`); the demo repository (`demo`).
"""
