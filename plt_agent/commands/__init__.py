"""CLI command groups, one module per verb group. Each module defines typer commands and a
`register(app)`; `plt_agent.cli` wires them up.

Command modules import heavy libraries (engine, torch, llama_cpp) inside the command
functions, so `plt-agent --help` stays fast.
"""

from plt_agent.commands import (
    agent_cmds,
    convert_cmds,
    debug_cmds,
    engine_cmds,
    eval_cmds,
    hook_cmds,
    models_cmds,
    repl_cmds,
    tool_cmds,
)

# Order is the order of `plt-agent --help`.
REGISTRY = [
    agent_cmds.register,
    models_cmds.register,
    repl_cmds.register,
    hook_cmds.register,
    convert_cmds.register,
    debug_cmds.register,
    engine_cmds.register,
    tool_cmds.register,
    eval_cmds.register,
]
