"""CLI command groups. Each module defines typer commands; `plt_agent.cli` wires them up.

Command modules import heavy libraries (engine, torch, llama_cpp) inside the command
functions, so `plt-agent --help` stays fast.
"""

from plt_agent.commands import agent_cmds, convert_cmds, engine_cmds, eval_cmds, repl_cmds, tool_cmds

# Order is the order of `plt-agent --help`.
REGISTRY = [
    agent_cmds.register,
    repl_cmds.register,
    convert_cmds.register,
    engine_cmds.register,
    tool_cmds.register,
    eval_cmds.register,
]
