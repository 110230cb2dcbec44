"""The local SWE-style evaluation harness behind `plt-agent eval`.

Tasks (bench/tasks or real SWE-bench instances) are materialised as fresh git repositories,
a solver (the agent, or the oracle that replays gold patches through the agent's own edit
tools) changes them, and the resulting diff is graded by running the hidden tests.
Nothing here is imported by the engine, the converters or the tools.
"""
