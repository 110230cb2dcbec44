"""`plt-agent chat`: terminal I/O (terminal.py), the session state (session.py), how a turn is
shown (turn.py), the slash commands (commands.py), Tab completion (complete.py) and the loop
that ties them (app.py)."""
