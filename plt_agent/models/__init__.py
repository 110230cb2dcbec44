"""Model backends behind one small protocol (`plt_agent.models.base.Model`)."""
