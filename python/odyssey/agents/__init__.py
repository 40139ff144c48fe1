"""LLM agents that do work for the people who add papers and review code (issue 15)."""
